#pragma once

// Adaptors show one object's fields to a Filter (containerd's filters.Adaptor). A field path is
// the list of segments of a selector: `labels."a.b"` is {"labels", "a.b"}, `labels.a.b` is
// {"labels", "a", "b"}.

#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <utility>

namespace berth::filters {

// Returns the value of the field at `path`, or nullopt when the object has no such field. What
// counts as present is the adaptor's choice: containerd's adaptors treat an empty string field as
// absent and a label with an empty value as present; MapAdaptor does the same.
// A Filter calls Field() from the thread that calls Match().
class Adaptor {
 public:
  virtual ~Adaptor() = default;
  virtual std::optional<std::string> Field(std::span<const std::string> path) const = 0;
};

// An adaptor made of a function, for one-off object types:
//   FuncAdaptor a([&](std::span<const std::string> path) -> std::optional<std::string> { … });
class FuncAdaptor final : public Adaptor {
 public:
  using Fn = std::function<std::optional<std::string>(std::span<const std::string>)>;

  explicit FuncAdaptor(Fn fn) : fn_(std::move(fn)) {}

  std::optional<std::string> Field(std::span<const std::string> path) const override {
    return fn_(path);
  }

 private:
  Fn fn_;
};

// The shape of most containerd objects: top-level string fields plus labels.
//   `name`                  fields["name"], present when not empty
//   `labels.k`, `labels."k"` labels["k"], present when the key exists (even with an empty value)
//   `labels.a.b`            labels["a.b"]: segments after `labels` are joined with '.', as
//                           containerd's adaptors do, so it equals `labels."a.b"`
// Every other path is absent. A field named "labels" in `fields` is never consulted.
class MapAdaptor final : public Adaptor {
 public:
  explicit MapAdaptor(std::map<std::string, std::string> fields,
                      std::map<std::string, std::string> labels = {})
      : fields_(std::move(fields)), labels_(std::move(labels)) {}

  std::optional<std::string> Field(std::span<const std::string> path) const override;

 private:
  std::map<std::string, std::string> fields_;
  std::map<std::string, std::string> labels_;
};

}  // namespace berth::filters
