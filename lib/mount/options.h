#pragma once

// Parsing of mount options into mount(2) flags, propagation flags and filesystem data, as
// mount(8) and containerd's parseMountOptions do. Pure: no syscalls.

#include <span>
#include <string>
#include <vector>

namespace berth::mount {

struct ParsedOptions {
  unsigned long flags = 0;        // MS_RDONLY, MS_BIND, MS_REC, MS_NOSUID …
  unsigned long propagation = 0;  // MS_PRIVATE, MS_SHARED, MS_SLAVE, MS_UNBINDABLE (| MS_REC)
  std::vector<std::string> data;  // everything else, in order

  // data joined with ',' (what mount(2) takes).
  std::string Data() const;
};

// Unknown words are kept as data, as mount(8) does; the kernel then rejects what the
// filesystem does not understand. "defaults" is dropped.
ParsedOptions ParseOptions(std::span<const std::string> options);

// The value of "name=value" in `options`, or "" when absent (the last one wins).
std::string OptionValue(std::span<const std::string> options, const std::string& name);

// True when `options` holds `word` exactly.
bool HasOption(std::span<const std::string> options, const std::string& word);

}  // namespace berth::mount
