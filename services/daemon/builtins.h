#pragma once

#include "services/plugin/registry.h"

namespace berth::daemon {

// Registers every plugin berthd contains: the one list (containerd's builtins.go).
void RegisterBuiltins(plugin::Registry& registry);

}  // namespace berth::daemon
