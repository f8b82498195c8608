#pragma once

// Users and groups as an image names them: `-u user[:group]` and `--group-add` resolved in the
// image's /etc/passwd and /etc/group, as Docker does. The database is read through a callback
// (bctr mounts the image's layers for it), only when a name must be looked up.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

#include "lib/oci/spec.h"

namespace berth::ctr {

// The image's /etc/passwd and /etc/group (empty when missing).
struct UserDb {
  std::string passwd;
  std::string group;
};

// Reads the image's user database; called only when a user or group is given by name or a
// numeric user needs its primary group.
using UserDbReader = std::function<absl::StatusOr<UserDb>()>;

// "user[:group]" (names or numbers) → uid, gid and supplementary groups, resolved in the
// image's user database like Docker: a numeric user missing from passwd gets gid 0 unless a
// group is given; names must exist. `home` gets the user's home directory ("/" if unknown).
absl::StatusOr<oci::User> ResolveUser(const std::string& spec, const UserDbReader& read,
                                      std::string* home);

// --group-add: each GROUP (a name from the image's /etc/group, or a number) joins the process's
// supplementary groups. NotFound naming a group the image lacks.
absl::Status AddGroups(const std::vector<std::string>& groups, const UserDbReader& read,
                       oci::User& user);

}  // namespace berth::ctr
