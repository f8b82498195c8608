// bctr's container verbs after run: a detached container through ps, exec, top, stats,
// inspect, pause/unpause, rename, stop (SIGTERM, then SIGKILL after -t), restart, wait, prune,
// info and rm; -t under a real terminal (tmux); and the errors a user meets (unknown flag,
// unknown container, a name in use, rm of a running container), each one line and a non-zero
// exit.

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <regex>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

#include "tests/integration/bctr_fixture.h"

namespace berth {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::MatchesRegex;
using ::testing::Not;
using ::testing::StartsWith;

class BctrContainersTest : public BctrFixture {
 protected:
  // One line on stderr starting "bctr: ", containing `what`, and exit code `code`.
  void ExpectOneLineError(const testing::CommandResult& r, int code, const std::string& what) {
    EXPECT_EQ(r.exit_code, code) << r.out << r.err;
    EXPECT_THAT(r.err, StartsWith("bctr: "));
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_THAT(r.err, HasSubstr(what));
  }

  // The pid of `id`'s task as Debian's ctr reports it.
  int TaskPid(const std::string& id) {
    for (const std::string& line : testing::Lines(C({"tasks", "ls"}).out)) {
      if (line.starts_with(id + " "))
        return std::atoi(line.substr(id.size() + 1).c_str());
    }
    return -1;
  }

  std::string TaskStatus(const std::string& id) {
    for (const std::string& line : testing::Lines(C({"tasks", "ls"}).out)) {
      if (line.starts_with(id + " "))
        return line.substr(line.rfind(' ') + 1);
    }
    return "";
  }
};

TEST_F(BctrContainersTest, DetachedLifecycle) {
  testing::CommandResult r = Bctr({"run", "-d", "--name", "web", "busybox", "sleep", "1000"});
  ASSERT_EQ(r.exit_code, 0) << r.err << DaemonLog();
  ASSERT_THAT(r.out, MatchesRegex("[0-9a-f]{64}\n"));
  const std::string id = r.out.substr(0, 64);
  EXPECT_EQ(TaskStatus(id), "RUNNING");

  r = Bctr({"ps"});
  std::vector<std::string> lines = testing::Lines(r.out);
  ASSERT_EQ(lines.size(), 2u) << r.out;
  EXPECT_THAT(lines[0],
              MatchesRegex("CONTAINER ID +IMAGE +COMMAND +CREATED +STATUS +PORTS +NAMES"));
  EXPECT_THAT(lines[1], MatchesRegex(id.substr(0, 12) +
                                     " +docker.io/library/busybox:latest +\"sleep 1000\" +"
                                     "(Less than a second|[0-9]+ seconds?) ago +Up .* +web"));
  EXPECT_EQ(Bctr({"ps", "-q"}).out, id.substr(0, 12) + "\n");
  nlohmann::json ps = nlohmann::json::parse(Bctr({"ps", "--format", "json"}).out, nullptr, false);
  ASSERT_TRUE(ps.is_array());
  EXPECT_EQ(ps[0]["ID"], id);
  EXPECT_EQ(ps[0]["State"], "running");

  // exec by name, by id prefix; its exit code; -e, -w, -u.
  r = Bctr({"exec", "web", "sh", "-c", "echo in-$(hostname)"});
  EXPECT_EQ(r.out, "in-" + id.substr(0, 12) + "\n") << r.err;
  r = Bctr({"exec", id.substr(0, 8), "sh", "-c", "exit 3"});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  r = Bctr({"exec", "-e", "X=1", "-w", "/tmp", "-u", "nobody", "web", "sh", "-c",
            "echo $X $(pwd) $(id -u)"});
  EXPECT_EQ(r.out, "1 /tmp 65534\n") << r.err;
  r = BctrWithInput({"exec", "-i", "web", "cat"}, "piped\n");
  EXPECT_EQ(r.out, "piped\n") << r.err;
  // A command that is not there, or cannot be run: docker's 127 and 126, and a message.
  r = Bctr({"exec", "web", "/bin/does-not-exist"});
  EXPECT_EQ(r.exit_code, 127) << r.err;
  EXPECT_THAT(r.err, HasSubstr("/bin/does-not-exist: No such file or directory"));
  r = Bctr({"exec", "web", "/etc/passwd"});
  EXPECT_EQ(r.exit_code, 126) << r.err;
  EXPECT_THAT(r.err, HasSubstr("/etc/passwd: Permission denied"));

  // top lists sleep; inspect has the pid; stats shows the container.
  r = Bctr({"top", "web"});
  EXPECT_THAT(r.out, StartsWith("UID"));
  EXPECT_THAT(r.out, HasSubstr("sleep 1000"));
  r = Bctr({"inspect", "web"});
  nlohmann::json j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_TRUE(j.is_array()) << r.out << r.err;
  EXPECT_EQ(j[0]["Id"], id);
  EXPECT_EQ(j[0]["Name"], "web");
  EXPECT_EQ(j[0]["State"]["Status"], "running");
  EXPECT_EQ(j[0]["State"]["Pid"], TaskPid(id));
  EXPECT_GT(TaskPid(id), 0);
  EXPECT_EQ(j[0]["LogPath"], log_root() + "/" + ns() + "/" + id + ".log");
  r = Bctr({"stats", "--no-stream"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  lines = testing::Lines(r.out);
  ASSERT_EQ(lines.size(), 2u) << r.out;
  EXPECT_THAT(lines[0], StartsWith("CONTAINER ID"));
  EXPECT_THAT(lines[1], MatchesRegex(id.substr(0, 12) +
                                     " +web +[0-9.]+% +[0-9.]+ [KMG]?i?B / [0-9.]+ [KMGT]iB +"
                                     "[0-9.]+% +1"));

  // pause / unpause, rename.
  EXPECT_EQ(Bctr({"pause", "web"}).exit_code, 0);
  EXPECT_EQ(TaskStatus(id), "PAUSED");
  EXPECT_THAT(Bctr({"ps"}).out, HasSubstr("(Paused)"));
  EXPECT_EQ(Bctr({"unpause", "web"}).exit_code, 0);
  EXPECT_EQ(TaskStatus(id), "RUNNING");
  r = Bctr({"rename", "web", "web2"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(Bctr({"ps"}).out, HasSubstr(" web2\n"));

  // rm refuses a running container; stop: sleep as pid 1 ignores SIGTERM, so -t 1 kills it.
  r = Bctr({"rm", "web2"});
  ExpectOneLineError(r, 1, "container \"web2\": is running; stop it first or use rm -f");
  auto start = std::chrono::steady_clock::now();
  r = Bctr({"stop", "-t", "1", "web2"});
  double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_GE(took, 0.9);
  EXPECT_LT(took, 5.0);
  EXPECT_EQ(TaskStatus(id), "STOPPED");
  EXPECT_THAT(Bctr({"ps", "-a"}).out, HasSubstr("Exited (137)"));
  EXPECT_EQ(Bctr({"ps", "-q"}).out, "");

  // start again (detached), then rm -f.
  r = Bctr({"start", "web2"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(TaskStatus(id), "RUNNING");
  r = Bctr({"rm", "-f", "web2"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(ContainerIds(), IsEmpty());
  EXPECT_THAT(ActiveSnapshots(), IsEmpty());
  EXPECT_EQ(C({"tasks", "ls", "-q"}).out, "");
}

TEST_F(BctrContainersTest, StopSendsTermFirst) {
  testing::CommandResult r = Bctr({"run", "-d", "--name", "polite", "busybox", "sh", "-c",
                                   "trap 'exit 0' TERM; while true; do sleep 0.1; done"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // the trap is set
  auto start = std::chrono::steady_clock::now();
  r = Bctr({"stop", "polite"});  // default -t 10
  double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_LT(took, 3.0);
  EXPECT_THAT(Bctr({"ps", "-a"}).out, HasSubstr("Exited (0)"));
  r = Bctr({"kill", "polite"});
  ExpectOneLineError(r, 1, "container \"polite\": is not running");
  EXPECT_EQ(Bctr({"rm", "polite"}).exit_code, 0);
}

// As Docker: bctr stop sends the container's stop signal (--stop-signal, else the image's
// STOPSIGNAL, else SIGTERM) and waits its --stop-timeout (else 10 s, or -t) before SIGKILL.
TEST_F(BctrContainersTest, StopUsesTheContainersStopSignalAndTimeout) {
  auto stop = [this](const std::string& name, double* took) {
    auto start = std::chrono::steady_clock::now();
    testing::CommandResult r = Bctr({"stop", name});
    *took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return r;
  };
  const std::string script =
      "trap 'exit 7' USR1; trap 'exit 8' USR2; trap '' TERM; "
      "while true; do sleep 0.1; done";
  testing::CommandResult r = Bctr(
      {"run", "-d", "--name", "usr1", "--stop-signal", "SIGUSR1", "busybox", "sh", "-c", script});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // the traps are set
  nlohmann::json j = nlohmann::json::parse(Bctr({"inspect", "usr1"}).out, nullptr, false);
  ASSERT_TRUE(j.is_array());
  EXPECT_EQ(j[0]["Config"]["StopSignal"], "SIGUSR1");  // as docker inspect shows it
  EXPECT_EQ(j[0]["HostConfig"]["AutoRemove"], false);
  double took = 0;
  r = stop("usr1", &took);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_LT(took, 3.0);
  EXPECT_THAT(Bctr({"ps", "-a"}).out, HasSubstr("Exited (7)"));

  // The image's STOPSIGNAL (here from a commit) when run without --stop-signal.
  ASSERT_EQ(Bctr({"run", "-d", "--name", "base", "busybox", "sleep", "100"}).exit_code, 0);
  r = Bctr({"commit", "-c", "STOPSIGNAL USR2", "base", "localhost/stopsig:v1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = Bctr({"run", "-d", "--name", "usr2", "localhost/stopsig:v1", "sh", "-c", script});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  r = stop("usr2", &took);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_LT(took, 3.0);
  EXPECT_THAT(Bctr({"ps", "-a"}).out, HasSubstr("Exited (8)"));

  // --stop-timeout: sleep as pid 1 ignores SIGTERM; SIGKILL comes after 1 s, not 10.
  ASSERT_EQ(Bctr({"run", "-d", "--name", "quick", "--stop-timeout", "1", "busybox", "sleep", "100"})
                .exit_code,
            0);
  j = nlohmann::json::parse(Bctr({"inspect", "quick"}).out, nullptr, false);
  ASSERT_TRUE(j.is_array());
  EXPECT_EQ(j[0]["Config"]["StopTimeout"], 1);
  r = stop("quick", &took);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_GE(took, 0.9);
  EXPECT_LT(took, 5.0);

  r = Bctr({"run", "-d", "--stop-signal", "SIGFROB", "busybox", "true"});
  ExpectOneLineError(r, 1, "--stop-signal: signal \"SIGFROB\": unknown");
  for (const char* name : {"usr1", "usr2", "base", "quick"})
    EXPECT_EQ(Bctr({"rm", "-f", name}).exit_code, 0) << name;
  EXPECT_EQ(Bctr({"rmi", "localhost/stopsig:v1"}).exit_code, 0);
  EXPECT_THAT(ContainerIds(), IsEmpty());
}

// bctr restart stops a container as bctr stop does and starts a new task on the same rootfs,
// its log going on; bctr wait blocks until containers are not running and prints their codes.
TEST_F(BctrContainersTest, RestartAndWait) {
  testing::CommandResult r = Bctr({"run", "-d", "--name", "again", "busybox", "sh", "-c",
                                   "echo run >> /runs; wc -l < /runs; exec sleep 1000"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string id = r.out.substr(0, 64);
  const int pid = TaskPid(id);
  ASSERT_GT(pid, 0);
  auto start = std::chrono::steady_clock::now();
  r = Bctr({"restart", "-t", "1", "again"});  // sleep as pid 1 ignores SIGTERM: SIGKILL after 1 s
  const double took =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_EQ(r.exit_code, 0) << r.err << DaemonLog();
  EXPECT_EQ(r.out, "again\n");
  EXPECT_GE(took, 0.9);
  EXPECT_EQ(TaskStatus(id), "RUNNING");
  EXPECT_NE(TaskPid(id), pid);
  std::string logs;
  for (int i = 0; i < 50 && logs != "1\n2\n"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    logs = Bctr({"logs", "again"}).out;
  }
  EXPECT_EQ(logs, "1\n2\n");  // the second run saw the first one's file

  // A created container is started by restart; an exited one too.
  ASSERT_EQ(Bctr({"create", "--name", "fresh", "busybox", "sh", "-c", "exit 4"}).exit_code, 0);
  r = Bctr({"wait", "fresh"});  // never started: not running, nothing to wait for
  EXPECT_EQ(r.out, "0\n") << r.err;
  EXPECT_EQ(Bctr({"restart", "fresh"}).exit_code, 0);
  EXPECT_EQ(Bctr({"wait", "fresh"}).out, "4\n");
  EXPECT_EQ(Bctr({"restart", "fresh"}).exit_code, 0);
  EXPECT_EQ(Bctr({"wait", "fresh"}).out, "4\n");

  ASSERT_EQ(
      Bctr({"run", "-d", "--name", "seven", "busybox", "sh", "-c", "sleep 1; exit 7"}).exit_code,
      0);
  start = std::chrono::steady_clock::now();
  r = Bctr({"wait", "seven", "nosuch", "fresh"});
  EXPECT_GE(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 0.5);
  EXPECT_EQ(r.out, "7\n4\n");
  ExpectOneLineError(r, 1, "wait: container \"nosuch\": not found");
  EXPECT_EQ(Bctr({"wait", "seven"}).out, "7\n");  // already exited: at once

  r = Bctr({"restart", "nosuch"});
  ExpectOneLineError(r, 1, "restart: container \"nosuch\": not found");
  for (const char* name : {"again", "fresh", "seven"})
    EXPECT_EQ(Bctr({"rm", "-f", name}).exit_code, 0) << name;
  EXPECT_THAT(ContainerIds(), IsEmpty());
}

// bctr container prune removes every container that is not running (exited with or without its
// task, created), nothing else; bctr image prune -a every image no container uses. Both ask
// first unless -f.
TEST_F(BctrContainersTest, Prune) {
  testing::CommandResult r = Bctr({"run", "-d", "--name", "up", "busybox", "sleep", "1000"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string up = r.out.substr(0, 64);
  ASSERT_EQ(Bctr({"run", "--name", "done", "busybox", "true"}).exit_code, 0);
  ASSERT_EQ(Bctr({"create", "--name", "new", "busybox", "true"}).exit_code, 0);
  ASSERT_EQ(Bctr({"run", "-d", "--name", "exited", "busybox", "true"}).exit_code, 0);
  EXPECT_EQ(Bctr({"wait", "exited"}).out, "0\n");  // its stopped task stays until removed
  ASSERT_EQ(Bctr({"tag", "busybox", "localhost/spare:v1"}).exit_code, 0);
  const std::vector<std::string> before = ContainerIds();
  ASSERT_EQ(before.size(), 4u);

  r = BctrWithInput({"container", "prune"}, "n\n");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("not confirmed, nothing removed"));
  EXPECT_EQ(ContainerIds(), before);
  r = BctrWithInput({"container", "prune"}, "y\n");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> deleted = testing::Lines(r.out);
  ASSERT_EQ(deleted.size(), 4u) << r.out;
  EXPECT_EQ(deleted[0], "Deleted Containers:");
  EXPECT_THAT(deleted, Not(::testing::Contains(up)));
  EXPECT_THAT(ContainerIds(), ElementsAre(up));
  EXPECT_EQ(Bctr({"container", "prune", "-f"}).out, "");  // nothing left to remove

  // image prune: nothing without -a (no untagged images); with it, the image nobody uses.
  EXPECT_EQ(Bctr({"image", "prune", "-f"}).out, "");
  r = Bctr({"image", "prune", "-a", "-f"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "Deleted Images:\nuntagged: localhost/spare:v1\n");
  EXPECT_EQ(Bctr({"images", "-q"}).out, "docker.io/library/busybox:latest\n");

  // system prune: the stopped containers, with -a the images no container uses, with --volumes
  // the anonymous volumes no container uses (named ones stay); one question for all.
  ASSERT_EQ(Bctr({"run", "--name", "old", "-v", "/cache", "busybox", "true"}).exit_code, 0);
  ASSERT_EQ(Bctr({"volume", "create", "keep"}).exit_code, 0);
  ASSERT_EQ(Bctr({"tag", "busybox", "localhost/spare:v2"}).exit_code, 0);
  ASSERT_EQ(Bctr({"volume", "ls", "-q"}).out.size(), 65u + 5u);  // the anonymous one, "keep"
  r = BctrWithInput({"system", "prune", "-a", "--volumes"}, "\n");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("all stopped containers, all images without at least one "
                               "container associated to them, all anonymous volumes"));
  EXPECT_EQ(ContainerIds().size(), 2u) << "nothing removed";
  r = Bctr({"system", "prune", "-a", "--volumes", "-f"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("Deleted Containers:\n"));
  EXPECT_THAT(r.out, HasSubstr("Deleted Images:\nuntagged: localhost/spare:v2\n"));
  EXPECT_THAT(r.out, HasSubstr("Deleted Volumes:\n"));
  EXPECT_THAT(ContainerIds(), ElementsAre(up));
  EXPECT_EQ(Bctr({"images", "-q"}).out, "docker.io/library/busybox:latest\n") << "up uses it";
  EXPECT_EQ(Bctr({"volume", "ls", "-q"}).out, "keep\n");
  EXPECT_EQ(Bctr({"rm", "-f", "up"}).exit_code, 0);
  EXPECT_THAT(ContainerIds(), IsEmpty());
  EXPECT_THAT(ActiveSnapshots(), IsEmpty());
}

// Docker's local volumes: named ones made by `volume create` or on first use, filled from the
// image on their first mount, kept across containers, refused for removal while in use;
// anonymous ones (-v /path) going with `run --rm` and `rm -v`, and with `volume prune`.
TEST_F(BctrContainersTest, Volumes) {
  namespace fs = std::filesystem;
  testing::CommandResult r = Bctr({"volume", "create", "data", "--label", "team=a"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "data\n");
  EXPECT_EQ(Bctr({"volume", "create", "data"}).out, "data\n") << "an existing one is named again";
  EXPECT_EQ(Bctr({"volume", "ls", "-q"}).out, "data\n");
  EXPECT_EQ(Bctr({"volume", "ls", "--format", "{{.Name}} {{.Driver}}"}).out, "data local\n");
  nlohmann::json v = nlohmann::json::parse(Bctr({"volume", "inspect", "data"}).out, nullptr, false);
  ASSERT_TRUE(v.is_array()) << Bctr({"volume", "inspect", "data"}).out;
  const fs::path data = volume_root() / ns() / "data" / "_data";
  EXPECT_EQ(v[0]["Name"], "data");
  EXPECT_EQ(v[0]["Driver"], "local");
  EXPECT_EQ(v[0]["Mountpoint"], data.string());
  EXPECT_EQ(v[0]["Labels"]["team"], "a");

  // Written by one container, read by the next; read-only with :ro.
  r = Bctr({"run", "--rm", "-v", "data:/data", "busybox", "sh", "-c", "echo hi > /data/f"});
  ASSERT_EQ(r.exit_code, 0) << r.err << DaemonLog();
  EXPECT_EQ(testing::ReadFile(data / "f"), "hi\n");
  r = Bctr({"run", "--rm", "-v", "data:/data:ro", "busybox", "sh", "-c",
            "cat /data/f; echo x > /data/g"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(r.out, "hi\n");
  EXPECT_FALSE(fs::exists(data / "g"));

  // Made on first use, and in use while a container names it (running or not).
  r = Bctr({"run", "-d", "--name", "user", "-v", "auto:/srv", "busybox", "sleep", "1000"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Bctr({"volume", "ls", "-q"}).out, "auto\ndata\n");
  nlohmann::json c = nlohmann::json::parse(Bctr({"inspect", "user"}).out, nullptr, false);
  ASSERT_TRUE(c.is_array());
  EXPECT_EQ(c[0]["Mounts"][0]["Type"], "volume");
  EXPECT_EQ(c[0]["Mounts"][0]["Name"], "auto");
  EXPECT_EQ(c[0]["Mounts"][0]["Destination"], "/srv");
  r = Bctr({"volume", "rm", "auto"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("volume \"auto\": in use by container user"));
  EXPECT_EQ(Bctr({"stop", "-t", "0", "user"}).exit_code, 0);
  EXPECT_EQ(Bctr({"volume", "rm", "auto"}).exit_code, 1) << "a stopped container still uses it";
  EXPECT_EQ(Bctr({"rm", "user"}).exit_code, 0);
  r = Bctr({"volume", "rm", "auto"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "auto\n");
  // A --label cannot name volumes for run --rm to delete: only bctr sets those labels. (A
  // volume named like an anonymous one has the shape lib/meta removes.)
  const std::string hexname(64, 'e');
  ASSERT_EQ(Bctr({"volume", "create", hexname}).exit_code, 0);
  r = Bctr({"run", "--rm", "--label",
            "berth.io/anonymous-volumes=" + (volume_root() / ns() / hexname).string(), "--label",
            "berth.io/volumes=" + hexname, "busybox", "true"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(fs::exists(volume_root() / ns() / hexname / "volume.json"));
  ASSERT_EQ(Bctr({"volume", "rm", hexname}).exit_code, 0);
  EXPECT_FALSE(fs::exists(volume_root() / ns() / "auto"));

  // A new volume is filled from the image at its destination, owner and mode kept; nocopy
  // leaves it empty; a volume with something in it is not filled again.
  r = Bctr({"run", "--name", "seeder", "busybox", "sh", "-c",
            "mkdir -p /srv/seed/sub && echo seed > /srv/seed/a && ln -s a /srv/seed/link && "
            "chown -R 1000:1000 /srv/seed && chmod 750 /srv/seed"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_EQ(Bctr({"commit", "seeder", "localhost/seeded:v1"}).exit_code, 0);
  ASSERT_EQ(Bctr({"rm", "seeder"}).exit_code, 0);
  r = Bctr({"run", "--rm", "-v", "seeded:/srv/seed", "localhost/seeded:v1", "sh", "-c",
            "stat -c '%u %a' /srv/seed; cat /srv/seed/a; readlink /srv/seed/link; "
            "echo mine > /srv/seed/a"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "1000 750\nseed\na\n");
  const fs::path seeded = volume_root() / ns() / "seeded" / "_data";
  EXPECT_TRUE(fs::is_directory(seeded / "sub"));
  r = Bctr({"run", "--rm", "-v", "seeded:/srv/seed", "localhost/seeded:v1", "cat", "/srv/seed/a"});
  EXPECT_EQ(r.out, "mine\n") << "kept, not filled again";
  r = Bctr({"run", "--rm", "--mount", "type=volume,src=bare,dst=/srv/seed,volume-nocopy",
            "localhost/seeded:v1", "ls", "-A", "/srv/seed"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "");

  // Anonymous volumes: gone with run --rm; kept by rm, gone with rm -v or volume prune.
  auto anonymous = [&] {
    std::vector<std::string> out;
    for (const std::string& n : testing::Lines(Bctr({"volume", "ls", "-q"}).out)) {
      if (n.size() == 64)
        out.push_back(n);
    }
    return out;
  };
  r = Bctr({"run", "--rm", "-v", "/cache", "busybox", "sh", "-c", "echo x > /cache/x"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(anonymous(), IsEmpty());
  r = Bctr({"run", "-d", "--rm", "-v", "/cache", "busybox", "sh", "-c", "sleep 1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(anonymous().size(), 1u);
  for (int i = 0; i < 100 && !anonymous().empty(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_THAT(anonymous(), IsEmpty()) << "berthd's auto-remove took it with the container";
  EXPECT_THAT(ContainerIds(), IsEmpty());

  // An image's VOLUME gets an anonymous volume, filled from the image, unless a mount covers it.
  r = Bctr(
      {"run", "--name", "vol-maker", "busybox", "sh", "-c", "mkdir /vol && echo img > /vol/f"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_EQ(Bctr({"commit", "-c", "VOLUME /vol", "vol-maker", "localhost/withvol:v1"}).exit_code,
            0);
  ASSERT_EQ(Bctr({"rm", "vol-maker"}).exit_code, 0);
  r = Bctr({"run", "--name", "v1", "localhost/withvol:v1", "sh", "-c",
            "cat /vol/f; grep -c ' /vol ' /proc/mounts"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "img\n1\n");
  EXPECT_EQ(anonymous().size(), 1u) << "v1's";
  EXPECT_EQ(Bctr({"rm", "-v", "v1"}).exit_code, 0);
  EXPECT_THAT(anonymous(), IsEmpty());
  r = Bctr({"run", "--rm", "-v", "data:/vol", "localhost/withvol:v1", "cat", "/vol/f"});
  EXPECT_EQ(r.out, "hi\n") << "the named volume, not an anonymous one: " << r.err;
  EXPECT_THAT(anonymous(), IsEmpty());

  ASSERT_EQ(Bctr({"run", "--name", "a1", "-v", "/cache", "busybox", "true"}).exit_code, 0);
  ASSERT_EQ(Bctr({"run", "--name", "a2", "-v", "/cache", "busybox", "true"}).exit_code, 0);
  ASSERT_EQ(anonymous().size(), 2u);
  EXPECT_EQ(Bctr({"rm", "-v", "a1"}).exit_code, 0);
  EXPECT_EQ(anonymous().size(), 1u);
  EXPECT_EQ(Bctr({"rm", "a2"}).exit_code, 0);
  EXPECT_EQ(anonymous().size(), 1u) << "rm without -v keeps it";
  r = Bctr({"volume", "prune", "-f"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, StartsWith("Deleted Volumes:\n"));
  EXPECT_THAT(anonymous(), IsEmpty());
  EXPECT_EQ(Bctr({"volume", "ls", "-q"}).out, "bare\ndata\nseeded\n") << "named ones stay";
  r = Bctr({"volume", "prune", "-a", "-f"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Bctr({"volume", "ls", "-q"}).out, "");

  // Bad input: a clear error, nothing made.
  r = Bctr({"run", "--rm", "-v", "x:/d", "busybox", "true"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("volume name \"x\""));
  r = Bctr({"volume", "inspect", "nosuch"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("volume \"nosuch\": no such volume"));
  EXPECT_EQ(Bctr({"volume", "create", "bad/name"}).exit_code, 1);
  EXPECT_EQ(Bctr({"volume", "rm", "nosuch"}).exit_code, 1);
  EXPECT_EQ(Bctr({"volume", "rm", "-f", "nosuch"}).exit_code, 0);
  r = Bctr({"run", "--rm", "-v", "late:/d", "--label", "k=" + std::string(5000, 'v'), "busybox",
            "true"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(Bctr({"volume", "ls", "-q"}).out, "") << "a create that fails leaves no volume";
  EXPECT_THAT(ContainerIds(), IsEmpty());
}

// docker ps's --filter, -n/-l and --format templates, as scripts use them.
TEST_F(BctrContainersTest, PsFiltersAndTemplates) {
  ASSERT_EQ(
      Bctr({"run", "-d", "--name", "web", "--label", "tier=front", "busybox", "sleep", "1000"})
          .exit_code,
      0);
  EXPECT_EQ(Bctr({"run", "--name", "job", "busybox", "sh", "-c", "exit 3"}).exit_code, 3);
  ASSERT_EQ(Bctr({"create", "--name", "fresh", "busybox", "true"}).exit_code, 0);

  EXPECT_EQ(Bctr({"ps", "--format", "{{.Names}} {{.State}}"}).out, "web running\n");
  testing::CommandResult r = Bctr({"ps", "-a", "--format", "table {{.Names}}\\t{{.State}}"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(testing::Lines(r.out),
              ElementsAre("NAMES  STATE", "fresh  created", "job    exited", "web    running"));
  EXPECT_EQ(Bctr({"ps", "-f", "status=exited", "--format", "{{.Names}}"}).out, "job\n");
  EXPECT_EQ(Bctr({"ps", "-f", "exited=3", "--format", "{{.Names}}"}).out, "job\n");
  EXPECT_EQ(
      Bctr({"ps", "-f", "status=created", "-f", "status=exited", "--format", "{{.Names}}"}).out,
      "fresh\njob\n");
  EXPECT_EQ(Bctr({"ps", "-a", "-f", "label=tier=front", "--format", "{{.Names}}"}).out, "web\n");
  EXPECT_EQ(Bctr({"ps", "-a", "-f", "label=tier", "-f", "name=jo", "--format", "{{.Names}}"}).out,
            "")
      << "different keys must all match";
  EXPECT_EQ(Bctr({"ps", "-a", "-f", "ancestor=busybox", "-q"}).out.size(), 3 * 13u);
  EXPECT_EQ(Bctr({"ps", "-l", "--format", "{{.Names}}"}).out, "fresh\n");
  EXPECT_EQ(Bctr({"ps", "-n", "2", "--format", "{{.Names}}"}).out, "fresh\njob\n");
  nlohmann::json labels =
      nlohmann::json::parse(Bctr({"ps", "--format", "{{json .Labels}}"}).out, nullptr, false);
  EXPECT_EQ(labels["tier"], "front");

  // The other listings take templates too: images by Docker's names, the rest by their columns.
  EXPECT_EQ(Bctr({"images", "--format", "{{.Repository}}:{{.Tag}}"}).out,
            "docker.io/library/busybox:latest\n");
  // A name pinned by digest has no tag; a name that is no reference is all repository.
  const std::string digest_name = "localhost/pinned@sha256:" + std::string(64, 'a');
  ASSERT_EQ(C({"images", "tag", "docker.io/library/busybox:latest", digest_name}).exit_code, 0);
  ASSERT_EQ(C({"images", "tag", "docker.io/library/busybox:latest", "Plain_Name"}).exit_code, 0);
  EXPECT_THAT(testing::Lines(Bctr({"images", "--format", "{{.Repository}} {{.Tag}}"}).out),
              ::testing::UnorderedElementsAre("docker.io/library/busybox latest",
                                              "localhost/pinned <none>", "Plain_Name <none>"));
  EXPECT_EQ(Bctr({"namespaces", "ls", "--format", "{{.Name}}"}).out.find(ns() + "\n") !=
                std::string::npos,
            true);

  r = Bctr({"ps", "--format", "{{.Nope}}"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("no field .Nope (the fields: .Command"));
  r = Bctr({"ps", "--format", "{{if .ID}}x{{end}}"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("{{if .ID}}: not understood"));
  r = Bctr({"ps", "-f", "status=dead"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("status is created, running, paused or exited"));
  EXPECT_EQ(Bctr({"ps", "-f", "color=red"}).exit_code, 1);
  EXPECT_EQ(Bctr({"ps", "--format", "yaml"}).exit_code, 2) << "a usage error";
}

// bctr info: the namespace's containers by state and its images, berthd's snapshotters, the host.
TEST_F(BctrContainersTest, Info) {
  ASSERT_EQ(Bctr({"run", "-d", "--name", "up", "busybox", "sleep", "1000"}).exit_code, 0);
  ASSERT_EQ(Bctr({"run", "-d", "--name", "frozen", "busybox", "sleep", "1000"}).exit_code, 0);
  ASSERT_EQ(Bctr({"pause", "frozen"}).exit_code, 0);
  ASSERT_EQ(Bctr({"create", "--name", "new", "busybox", "true"}).exit_code, 0);
  testing::CommandResult r = Bctr({"info", "--format", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json i = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_TRUE(i.is_object()) << r.out;
  EXPECT_EQ(i["Namespace"], ns());
  EXPECT_EQ(i["Containers"], 3);
  EXPECT_EQ(i["ContainersRunning"], 1);
  EXPECT_EQ(i["ContainersPaused"], 1);
  EXPECT_EQ(i["ContainersStopped"], 1);
  EXPECT_EQ(i["Images"], 1);
  EXPECT_THAT(i["Snapshotters"].dump(), HasSubstr("\"overlayfs\""));
  EXPECT_EQ(i["CgroupVersion"],
            std::filesystem::exists("/sys/fs/cgroup/cgroup.controllers") ? "2" : "1");
  EXPECT_EQ(i["NCPU"], sysconf(_SC_NPROCESSORS_ONLN));
  EXPECT_EQ(i["MemTotal"].get<int64_t>(), int64_t{sysconf(_SC_PHYS_PAGES)} * sysconf(_SC_PAGESIZE));
  EXPECT_THAT(Bctr({"version"}).out, HasSubstr(i["ServerVersion"].get<std::string>()));
  r = Bctr({"info"});
  EXPECT_THAT(r.out, HasSubstr("Server:\n Containers: 3\n  Running: 1\n  Paused: 1\n  Stopped: 1\n"
                               " Images: 1\n"));
  EXPECT_EQ(Bctr({"rm", "-f", "up", "frozen", "new"}).exit_code, 0);
  EXPECT_THAT(ContainerIds(), IsEmpty());
}

// As `docker run -d --rm`: berthd removes the container (task, container, snapshot, log file)
// once its task has exited, whether it ends by itself or is stopped; bctr has long exited.
TEST_F(BctrContainersTest, DetachedRemoveGoesWhenTheTaskExits) {
  auto gone = [this] {
    for (int i = 0; i < 100 && !ContainerIds().empty(); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    return ContainerIds().empty();
  };
  testing::CommandResult r = Bctr(
      {"run", "-d", "--rm", "--name", "brief", "busybox", "sh", "-c", "echo bye; sleep 1; exit 3"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string id = r.out.substr(0, r.out.find('\n'));
  const std::string log = log_root() + "/" + ns() + "/" + id + ".log";
  EXPECT_TRUE(std::filesystem::exists(log));
  EXPECT_THAT(Bctr({"ps", "-q"}).out, HasSubstr(id.substr(0, 12)));  // running meanwhile
  EXPECT_TRUE(gone()) << Bctr({"ps", "-a"}).out;
  EXPECT_THAT(ActiveSnapshots(), IsEmpty());
  EXPECT_THAT(InitLayers(), IsEmpty());
  EXPECT_FALSE(std::filesystem::exists(log));
  EXPECT_EQ(C({"tasks", "ls", "-q"}).out, "");

  r = Bctr({"run", "-d", "--rm", "--name", "svc", "busybox", "sleep", "100"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json j = nlohmann::json::parse(Bctr({"inspect", "svc"}).out, nullptr, false);
  ASSERT_TRUE(j.is_array());
  EXPECT_EQ(j[0]["HostConfig"]["AutoRemove"], true);
  // A restart is not an exit that removes it; it goes at the next stop.
  const std::string svc_id = j[0]["Id"].get<std::string>();
  const int svc_pid = TaskPid(svc_id);
  r = Bctr({"restart", "-t", "1", "svc"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // the monitor has seen the exit
  EXPECT_EQ(TaskStatus(svc_id), "RUNNING") << Bctr({"ps", "-a"}).out;
  EXPECT_NE(TaskPid(svc_id), svc_pid);
  j = nlohmann::json::parse(Bctr({"inspect", "svc"}).out, nullptr, false);
  ASSERT_TRUE(j.is_array());
  EXPECT_EQ(j[0]["HostConfig"]["AutoRemove"], true);
  r = Bctr({"stop", "-t", "1", "svc"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(gone()) << Bctr({"ps", "-a"}).out;
  EXPECT_THAT(ActiveSnapshots(), IsEmpty());

  // A container without --rm stays after its exit.
  r = Bctr({"run", "-d", "--name", "kept", "busybox", "true"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::this_thread::sleep_for(std::chrono::seconds(1));
  EXPECT_THAT(Bctr({"ps", "-a"}).out, HasSubstr("kept"));
  EXPECT_EQ(Bctr({"rm", "kept"}).exit_code, 0);
  r = Bctr({"run", "-d", "--rm", "--restart", "always", "busybox", "true"});
  ExpectOneLineError(r, 1, "--restart and --rm cannot be used together");
}

TEST_F(BctrContainersTest, CreateThenStartAttached) {
  testing::CommandResult r =
      Bctr({"create", "--name", "later", "busybox", "sh", "-c", "echo started; exit 5"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(Bctr({"ps", "-a"}).out, HasSubstr("Created"));
  EXPECT_EQ(C({"tasks", "ls", "-q"}).out, "");
  r = Bctr({"start", "-a", "later"});
  EXPECT_EQ(r.exit_code, 5) << r.err;
  EXPECT_EQ(r.out, "started\n");
  r = Bctr({"start", "-a", "later"});  // a second run of the same container
  EXPECT_EQ(r.exit_code, 5) << r.err;
  EXPECT_EQ(Bctr({"rm", "later"}).exit_code, 0);
}

TEST_F(BctrContainersTest, TerminalUnderTmux) {
  if (!testing::HaveProgram("tmux"))
    GTEST_SKIP() << "tmux is not installed";
  const std::string sock = "berth-bctr-" + std::to_string(::getpid());
  auto tmux = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"tmux", "-L", sock});
    return testing::RunCommand(args);
  };
  std::string cmd = BctrCommandLine({"run", "-it", "--rm", "--name", "tty1", "busybox", "sh"}) +
                    "; echo exit=$?; sleep 30";
  testing::CommandResult r =
      tmux({"new-session", "-d", "-s", "t", "-x", "100", "-y", "30", "sh", "-c", cmd});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto pane = [&] { return tmux({"capture-pane", "-p", "-t", "t"}).out; };
  auto wait_for = [&](const std::string& text) {
    for (int i = 0; i < 200; ++i) {
      if (pane().find(text) != std::string::npos)
        return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  };
  EXPECT_TRUE(wait_for("/ #")) << pane();  // capture-pane trims the trailing blank
  tmux({"send-keys", "-t", "t", "echo hi$((40+2)); stty size", "Enter"});
  EXPECT_TRUE(wait_for("hi42")) << pane();
  EXPECT_TRUE(wait_for("30 100")) << pane();  // the pane's size reached the pty
  tmux({"send-keys", "-t", "t", "exit 4", "Enter"});
  EXPECT_TRUE(wait_for("exit=4")) << pane();
  tmux({"kill-server"});
  EXPECT_THAT(ContainerIds(), IsEmpty());
}

TEST_F(BctrContainersTest, BadInput) {
  testing::CommandResult r = Bctr({"run", "--no-such-flag", "busybox"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, StartsWith("bctr: run: "));
  r = Bctr({"rm", "nope"});
  ExpectOneLineError(r, 1, "bctr: rm: container \"nope\": not found");
  r = Bctr({"exec", "nope", "true"});
  ExpectOneLineError(r, 1, "container \"nope\": not found");
  r = Bctr({"stop", "nope"});
  ExpectOneLineError(r, 1, "container \"nope\": not found");
  r = Bctr({"inspect", "nope"});
  ExpectOneLineError(r, 1, "container \"nope\": not found");

  r = Bctr({"create", "--name", "dup", "busybox"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string id = r.out.substr(0, 64);
  r = Bctr({"run", "--name", "dup", "busybox", "true"});
  ExpectOneLineError(r, 1,
                     "container name \"dup\": already in use by container " + id.substr(0, 12));
  r = Bctr({"create", "busybox"});  // a generated name, docker-like
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json j = nlohmann::json::parse(Bctr({"inspect", r.out.substr(0, 64)}).out);
  EXPECT_THAT(j[0]["Name"].get<std::string>(), MatchesRegex("[a-z]+_[a-z]+"));
  r = Bctr({"rename", "dup", j[0]["Name"].get<std::string>()});
  ExpectOneLineError(r, 1, "already in use");
  r = Bctr({"run", "--name", "bad name", "busybox", "true"});
  ExpectOneLineError(r, 1, "container name \"bad name\": invalid");
  r = Bctr({"exec", id.substr(0, 12), "true"});
  ExpectOneLineError(r, 1, "is not running");
  EXPECT_EQ(ContainerIds().size(), 2u);
}

}  // namespace
}  // namespace berth
