#include "lib/base/stdio_uri.h"

#include "absl/strings/str_cat.h"
#include "fmt/format.h"

#include "lib/base/hex.h"
#include "lib/base/status.h"

namespace berth {
namespace {

// %XX → byte (and, in a query, '+' → ' '); false on a bad escape.
bool Decode(std::string_view in, bool plus_is_space, std::string& out) {
  out.clear();
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '+' && plus_is_space) {
      out.push_back(' ');
      continue;
    }
    if (in[i] != '%') {
      out.push_back(in[i]);
      continue;
    }
    if (i + 2 >= in.size())
      return false;
    int h = HexDigitValue(in[i + 1]), l = HexDigitValue(in[i + 2]);
    if (h < 0 || l < 0)
      return false;
    out.push_back(static_cast<char>(h * 16 + l));
    i += 2;
  }
  return true;
}

}  // namespace

bool HasScheme(std::string_view uri, std::string_view scheme) {
  return uri.size() > scheme.size() + 3 && uri.substr(0, scheme.size()) == scheme &&
         uri.substr(scheme.size(), 3) == "://";
}

absl::StatusOr<StdioUri> ParseStdioUri(std::string_view uri, std::string_view scheme) {
  auto bad = [&](std::string_view why) {
    return InvalidArgument(fmt::format("log uri {:?}: {}", uri, why));
  };
  if (!HasScheme(uri, scheme))
    return bad(fmt::format("not a {}:// URI", scheme));
  std::string_view rest = uri.substr(scheme.size() + 3);
  std::string_view query;
  if (size_t q = rest.find('?'); q != std::string_view::npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  size_t slash = rest.find('/');
  std::string_view host = rest.substr(0, slash);
  if (!host.empty() && host != "localhost")
    return bad(fmt::format("host {:?} is not supported (want {}:///abs/path)", host, scheme));
  if (slash == std::string_view::npos || rest.size() == slash + 1)
    return bad("the path is empty");
  StdioUri out;
  if (!Decode(rest.substr(slash), /*plus_is_space=*/false, out.path))
    return bad("bad %-escape in the path");
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view kv = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (kv.empty())
      continue;
    size_t eq = kv.find('=');
    std::pair<std::string, std::string>& p = out.query.emplace_back();
    if (!Decode(kv.substr(0, eq), true, p.first) ||
        (eq != std::string_view::npos && !Decode(kv.substr(eq + 1), true, p.second)))
      return bad("bad %-escape in the query");
  }
  return out;
}

}  // namespace berth
