#include "lib/mount/options.h"

#include <sys/mount.h>

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::mount {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

struct Case {
  std::vector<std::string> options;
  unsigned long flags;
  unsigned long propagation;
  std::string data;
};

TEST(ParseOptions, Table) {
  const Case cases[] = {
      {{}, 0, 0, ""},
      {{"defaults"}, 0, 0, ""},
      {{"ro"}, MS_RDONLY, 0, ""},
      {{"ro", "rw"}, 0, 0, ""},
      {{"bind", "ro"}, MS_BIND | MS_RDONLY, 0, ""},
      {{"rbind", "rw"}, MS_BIND | MS_REC, 0, ""},
      {{"nosuid", "nodev", "noexec"}, MS_NOSUID | MS_NODEV | MS_NOEXEC, 0, ""},
      {{"nosuid", "suid"}, 0, 0, ""},
      {{"remount", "ro", "bind"}, MS_REMOUNT | MS_RDONLY | MS_BIND, 0, ""},
      {{"noatime", "atime"}, 0, 0, ""},
      {{"rprivate"}, 0, MS_PRIVATE | MS_REC, ""},
      {{"shared"}, 0, MS_SHARED, ""},
      {{"rslave", "rbind"}, MS_BIND | MS_REC, MS_SLAVE | MS_REC, ""},
      {{"index=off", "workdir=/w", "upperdir=/u", "lowerdir=/a:/b"},
       0,
       0,
       "index=off,workdir=/w,upperdir=/u,lowerdir=/a:/b"},
      {{"mode=755", "ro", "size=65536k"}, MS_RDONLY, 0, "mode=755,size=65536k"},
      {{"userxattr"}, 0, 0, "userxattr"},
  };
  for (const Case& c : cases) {
    ParsedOptions p = ParseOptions(c.options);
    SCOPED_TRACE(::testing::PrintToString(c.options));
    EXPECT_EQ(p.flags, c.flags);
    EXPECT_EQ(p.propagation, c.propagation);
    EXPECT_EQ(p.Data(), c.data);
  }
}

TEST(ParseOptions, KeepsDataOrder) {
  std::vector<std::string> o = {"lowerdir=/l", "ro", "upperdir=/u"};
  EXPECT_THAT(ParseOptions(o).data, ElementsAre("lowerdir=/l", "upperdir=/u"));
  std::vector<std::string> none = {"ro", "nosuid"};
  EXPECT_THAT(ParseOptions(none).data, IsEmpty());
}

TEST(OptionValue, LastWinsAndMissingIsEmpty) {
  std::vector<std::string> o = {"lowerdir=/a", "upperdir=/u", "lowerdir=/b:/c", "ro"};
  EXPECT_EQ(OptionValue(o, "lowerdir"), "/b:/c");
  EXPECT_EQ(OptionValue(o, "upperdir"), "/u");
  EXPECT_EQ(OptionValue(o, "workdir"), "");
  EXPECT_TRUE(HasOption(o, "ro"));
  EXPECT_FALSE(HasOption(o, "rw"));
  EXPECT_FALSE(HasOption(o, "lowerdir"));
}

}  // namespace
}  // namespace berth::mount
