#include "lib/mount/options.h"

#include <sys/mount.h>

#include <string_view>

namespace berth::mount {
namespace {

struct FlagWord {
  std::string_view word;
  bool clear;  // the word clears the flag ("rw" clears MS_RDONLY)
  unsigned long flag;
};

constexpr FlagWord kFlags[] = {
    {"async", true, MS_SYNCHRONOUS},
    {"atime", true, MS_NOATIME},
    {"bind", false, MS_BIND},
    {"defaults", false, 0},
    {"dev", true, MS_NODEV},
    {"diratime", true, MS_NODIRATIME},
    {"dirsync", false, MS_DIRSYNC},
    {"exec", true, MS_NOEXEC},
    {"mand", false, MS_MANDLOCK},
    {"noatime", false, MS_NOATIME},
    {"nodev", false, MS_NODEV},
    {"nodiratime", false, MS_NODIRATIME},
    {"noexec", false, MS_NOEXEC},
    {"nomand", true, MS_MANDLOCK},
    {"norelatime", true, MS_RELATIME},
    {"nostrictatime", true, MS_STRICTATIME},
    {"nosuid", false, MS_NOSUID},
    {"rbind", false, MS_BIND | MS_REC},
    {"relatime", false, MS_RELATIME},
    {"remount", false, MS_REMOUNT},
    {"ro", false, MS_RDONLY},
    {"rw", true, MS_RDONLY},
    {"strictatime", false, MS_STRICTATIME},
    {"suid", true, MS_NOSUID},
    {"sync", false, MS_SYNCHRONOUS},
};

struct PropagationWord {
  std::string_view word;
  unsigned long flag;
};

constexpr PropagationWord kPropagation[] = {
    {"private", MS_PRIVATE},       {"rprivate", MS_PRIVATE | MS_REC},
    {"shared", MS_SHARED},         {"rshared", MS_SHARED | MS_REC},
    {"slave", MS_SLAVE},           {"rslave", MS_SLAVE | MS_REC},
    {"unbindable", MS_UNBINDABLE}, {"runbindable", MS_UNBINDABLE | MS_REC},
};

bool ApplyFlagWord(const std::string& o, ParsedOptions& out) {
  for (const FlagWord& f : kFlags) {
    if (f.word != o)
      continue;
    if (f.clear)
      out.flags &= ~f.flag;
    else
      out.flags |= f.flag;
    return true;
  }
  return false;
}

bool ApplyPropagationWord(const std::string& o, ParsedOptions& out) {
  for (const PropagationWord& p : kPropagation) {
    if (p.word == o) {
      out.propagation |= p.flag;
      return true;
    }
  }
  return false;
}

}  // namespace

std::string ParsedOptions::Data() const {
  std::string s;
  for (const std::string& d : data) {
    if (!s.empty())
      s += ',';
    s += d;
  }
  return s;
}

ParsedOptions ParseOptions(std::span<const std::string> options) {
  ParsedOptions out;
  for (const std::string& o : options) {
    if (ApplyFlagWord(o, out) || ApplyPropagationWord(o, out))
      continue;
    out.data.push_back(o);
  }
  return out;
}

std::string OptionValue(std::span<const std::string> options, const std::string& name) {
  std::string value;
  const std::string prefix = name + "=";
  for (const std::string& o : options) {
    if (o.starts_with(prefix))
      value = o.substr(prefix.size());
  }
  return value;
}

bool HasOption(std::span<const std::string> options, const std::string& word) {
  for (const std::string& o : options) {
    if (o == word)
      return true;
  }
  return false;
}

}  // namespace berth::mount
