#include "ctr/complete.h"

#include <algorithm>
#include <optional>

namespace berth::ctr {
namespace {

bool Hidden(const CLI::App* app) {
  return app->get_group().empty() || app->get_name().starts_with("__");
}

// The option `word` names on `app` or its parents (global flags apply under every verb).
const CLI::Option* FindFlag(CLI::App* app, std::string_view word) {
  std::string name(word.substr(0, word.find('=')));
  for (CLI::App* a = app; a != nullptr; a = a->get_parent()) {
    for (const CLI::Option* opt : a->get_options()) {
      if (opt->get_positional() && !opt->nonpositional())
        continue;
      if (opt->check_name(name))
        return opt;
    }
  }
  return nullptr;
}

std::vector<std::string> FlagNames(CLI::App* app) {
  std::vector<std::string> out;
  for (CLI::App* a = app; a != nullptr; a = a->get_parent()) {
    for (const CLI::Option* opt : a->get_options()) {
      if (!opt->nonpositional() || opt->get_group().empty())
        continue;
      for (const std::string& l : opt->get_lnames()) out.push_back("--" + l);
      for (const std::string& s : opt->get_snames()) out.push_back("-" + s);
    }
  }
  return out;
}

std::optional<ObjectKind> KindOf(const CLI::Option* positional) {
  std::string name = positional->get_name(true);
  std::transform(name.begin(), name.end(), name.begin(), ::tolower);
  if (name.find("container") != std::string::npos)
    return ObjectKind::kContainer;
  if (name.find("image") != std::string::npos)
    return ObjectKind::kImage;
  if (name.find("volume") != std::string::npos)
    return ObjectKind::kVolume;
  return std::nullopt;
}

// The positional that the `index`th positional word fills (a vector positional takes all
// remaining words).
const CLI::Option* PositionalAt(CLI::App* app, size_t index) {
  size_t seen = 0;
  for (const CLI::Option* opt : app->get_options()) {
    if (!opt->get_positional() || opt->nonpositional())
      continue;
    int want = opt->get_items_expected_max();
    if (want < 0 || index < seen + static_cast<size_t>(want))
      return opt;
    seen += static_cast<size_t>(want);
  }
  return nullptr;
}

}  // namespace

std::vector<std::string> CompletionCandidates(CLI::App& root, const std::vector<std::string>& words,
                                              const ObjectLister& objects) {
  if (words.empty())
    return {};
  const std::string& cur = words.back();
  CLI::App* app = &root;
  size_t positionals = 0;
  bool value_expected = false;
  for (size_t i = 0; i + 1 < words.size(); ++i) {
    const std::string& w = words[i];
    if (value_expected) {
      value_expected = false;
      continue;
    }
    if (w.starts_with("-") && w != "-") {
      const CLI::Option* opt = FindFlag(app, w);
      value_expected =
          opt != nullptr && opt->get_type_size_min() > 0 && w.find('=') == std::string::npos;
      continue;
    }
    if (positionals == 0) {
      CLI::App* sub = nullptr;
      try {
        sub = app->get_subcommand(w);
      } catch (const CLI::OptionNotFound&) {
      }
      if (sub != nullptr) {
        app = sub;
        continue;
      }
    }
    ++positionals;
  }
  std::vector<std::string> all;
  if (value_expected)
    return {};  // a flag's value: leave it to the shell's default (files)
  if (cur.starts_with("-")) {
    all = FlagNames(app);
  } else {
    if (positionals == 0) {
      for (CLI::App* sub : app->get_subcommands([](CLI::App* a) { return !Hidden(a); }))
        all.push_back(sub->get_name());
    }
    if (const CLI::Option* pos = PositionalAt(app, positionals); pos != nullptr && objects) {
      if (std::optional<ObjectKind> kind = KindOf(pos))
        for (std::string& name : objects(*kind)) all.push_back(std::move(name));
    }
  }
  std::vector<std::string> out;
  for (std::string& c : all)
    if (c.starts_with(cur))
      out.push_back(std::move(c));
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace berth::ctr
