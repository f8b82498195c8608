#include "ctr/user_db.h"

#include <algorithm>
#include <set>
#include <sstream>

#include "fmt/format.h"

#include "ctr/text.h"
#include "lib/base/status.h"
#include "lib/base/status_macros.h"

namespace berth::ctr {
namespace {

// passwd/group line fields, or empty when `key` (a name or number in field 0 or 2) is absent.
std::vector<std::string> FindEntry(const std::string& db, const std::string& key, bool numeric) {
  std::stringstream ss(db);
  std::string line;
  while (std::getline(ss, line)) {
    if (line.empty() || line[0] == '#')
      continue;
    std::vector<std::string> f = Split(line, ':');
    if (f.size() < 3)
      continue;
    if ((numeric ? f[2] : f[0]) == key)
      return f;
  }
  return {};
}

// Supplementary groups of `user` (group lines listing it), as Docker adds them.
std::vector<uint32_t> MemberGroups(const std::string& db, const std::string& user, uint32_t gid) {
  std::vector<uint32_t> out;
  std::stringstream ss(db);
  std::string line;
  while (std::getline(ss, line)) {
    std::vector<std::string> f = Split(line, ':');
    if (f.size() < 4 || user.empty())
      continue;
    std::vector<std::string> members = Split(f[3], ',');
    std::optional<uint32_t> g = ParseUint32(f[2]);
    if (g && *g != gid && std::find(members.begin(), members.end(), user) != members.end())
      out.push_back(*g);
  }
  return out;
}

}  // namespace

absl::StatusOr<oci::User> ResolveUser(const std::string& spec, const UserDbReader& read,
                                      std::string* home) {
  size_t colon = spec.find(':');
  std::string user = spec.substr(0, colon);
  std::string group = colon == std::string::npos ? "" : spec.substr(colon + 1);
  if (user.empty())
    return InvalidArgument(fmt::format("user {:?}: want USER[:GROUP]", spec));
  std::optional<uint32_t> uid = ParseUint32(user);
  std::optional<uint32_t> gid = ParseUint32(group);
  oci::User u;
  *home = uid && *uid == 0 ? "/root" : "/";
  UserDb db;
  // Names need the database; a numeric user without a group looks up its primary group there
  // when it can (and gets gid 0 otherwise, as Docker does without /etc/passwd).
  bool need = !uid || (!group.empty() && !gid);
  if (need && !read)
    return InvalidArgument(fmt::format("user {:?}: cannot read the image's user database", spec));
  if (read && (need || group.empty())) {
    BERTH_ASSIGN_OR_RETURN(db, read());
  }
  std::vector<std::string> pw = FindEntry(db.passwd, user, uid.has_value());
  if (!uid && pw.empty())
    return absl::NotFoundError(
        fmt::format("user {:?}: no such user in the image's /etc/passwd", user));
  u.uid = uid ? *uid : ParseUint32(pw[2]).value_or(0);
  u.gid = pw.size() > 3 ? ParseUint32(pw[3]).value_or(0) : 0;
  if (pw.size() > 5 && !pw[5].empty())
    *home = pw[5];
  if (!group.empty()) {
    if (gid) {
      u.gid = *gid;
    } else {
      std::vector<std::string> gr = FindEntry(db.group, group, false);
      if (gr.empty())
        return absl::NotFoundError(
            fmt::format("group {:?}: no such group in the image's /etc/group", group));
      u.gid = ParseUint32(gr[2]).value_or(0);
    }
  }
  if (!pw.empty())
    u.additional_gids = MemberGroups(db.group, pw[0], u.gid);
  return u;
}

absl::Status AddGroups(const std::vector<std::string>& groups, const UserDbReader& read,
                       oci::User& user) {
  std::optional<UserDb> db;
  for (const std::string& g : groups) {
    std::optional<uint32_t> gid = ParseUint32(g);
    if (!gid) {
      if (g.empty())
        return InvalidArgument("--group-add \"\": want a group name or number");
      if (!read)
        return InvalidArgument(
            fmt::format("--group-add {:?}: cannot read the image's user database", g));
      if (!db) {
        BERTH_ASSIGN_OR_RETURN(db, read());
      }
      std::vector<std::string> gr = FindEntry(db->group, g, false);
      if (gr.size() < 3)
        return absl::NotFoundError(
            fmt::format("--group-add {:?}: no such group in the image's /etc/group", g));
      gid = ParseUint32(gr[2]).value_or(0);
    }
    if (std::find(user.additional_gids.begin(), user.additional_gids.end(), *gid) ==
        user.additional_gids.end())
      user.additional_gids.push_back(*gid);
  }
  return absl::OkStatus();
}

}  // namespace berth::ctr
