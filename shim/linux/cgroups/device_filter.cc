#include "shim/linux/cgroups/device_filter.h"

#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "fmt/format.h"

#include "lib/base/status.h"
#include "lib/base/status_macros.h"

namespace berth::shim::linux {

namespace {

// Registers: R1 the context (struct bpf_cgroup_dev_ctx), then R2 the device type, R3 the
// access asked for, R4 the major and R5 the minor number; R0 the answer.
constexpr uint8_t R0 = 0, R1 = 1, R2 = 2, R3 = 3, R4 = 4, R5 = 5;

struct bpf_insn Insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
  struct bpf_insn i {};

  i.code = code;
  i.dst_reg = dst;
  i.src_reg = src;
  i.off = off;
  i.imm = imm;
  return i;
}

struct bpf_insn LoadWord(uint8_t dst, int16_t off) {
  return Insn(BPF_LDX | BPF_MEM | BPF_W, dst, R1, off, 0);
}

struct bpf_insn JumpIfNot(uint8_t reg, int32_t value) {  // offset filled in by the caller
  return Insn(BPF_JMP | BPF_JNE | BPF_K, reg, 0, 0, value);
}

void AppendReturn(std::vector<struct bpf_insn>& out, int32_t value) {
  out.push_back(Insn(BPF_ALU64 | BPF_MOV | BPF_K, R0, 0, 0, value));
  out.push_back(Insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0));
}

absl::StatusOr<int32_t> AccessBits(const oci::DeviceRule& r) {
  int32_t bits = 0;
  for (char c : r.access.empty() ? std::string("rwm") : r.access) {
    switch (c) {
      case 'r':
        bits |= BPF_DEVCG_ACC_READ;
        break;
      case 'w':
        bits |= BPF_DEVCG_ACC_WRITE;
        break;
      case 'm':
        bits |= BPF_DEVCG_ACC_MKNOD;
        break;
      default:
        return InvalidArgument(
            fmt::format("linux.resources.devices: access {:?}: want letters of rwm", r.access));
    }
  }
  return bits;
}

long Bpf(int cmd, union bpf_attr& attr) {
  return ::syscall(SYS_bpf, cmd, &attr, sizeof(attr));
}

}  // namespace

absl::StatusOr<std::vector<struct bpf_insn>> DeviceFilterProgram(
    const std::vector<oci::DeviceRule>& rules) {
  std::vector<struct bpf_insn> out = {
      LoadWord(R2, 0),  // access_type: (access << 16) | type
      Insn(BPF_ALU | BPF_AND | BPF_K, R2, 0, 0, 0xFFFF),
      LoadWord(R3, 0),
      Insn(BPF_ALU | BPF_RSH | BPF_K, R3, 0, 0, 16),
      LoadWord(R4, 4),  // major
      LoadWord(R5, 8),  // minor
  };
  // Last rule first: the first block that matches returns that rule's answer.
  for (auto r = rules.rbegin(); r != rules.rend(); ++r) {
    std::vector<struct bpf_insn> block;
    std::vector<size_t> jumps;  // to the block's end when the rule does not match
    if (r->type == "c" || r->type == "b") {
      jumps.push_back(block.size());
      block.push_back(JumpIfNot(R2, r->type == "c" ? BPF_DEVCG_DEV_CHAR : BPF_DEVCG_DEV_BLOCK));
    } else if (!r->type.empty() && r->type != "a") {
      return InvalidArgument(
          fmt::format("linux.resources.devices: type {:?}: want a, b or c", r->type));
    }
    BERTH_ASSIGN_OR_RETURN(int32_t bits, AccessBits(*r));
    if (bits != (BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE | BPF_DEVCG_ACC_MKNOD)) {
      // Matches only when every access asked for is one the rule names.
      block.push_back(Insn(BPF_ALU64 | BPF_MOV | BPF_X, R1, R3, 0, 0));
      block.push_back(Insn(BPF_ALU | BPF_AND | BPF_K, R1, 0, 0, ~bits));
      jumps.push_back(block.size());
      block.push_back(JumpIfNot(R1, 0));
    }
    if (r->major && *r->major >= 0) {
      jumps.push_back(block.size());
      block.push_back(JumpIfNot(R4, static_cast<int32_t>(*r->major)));
    }
    if (r->minor && *r->minor >= 0) {
      jumps.push_back(block.size());
      block.push_back(JumpIfNot(R5, static_cast<int32_t>(*r->minor)));
    }
    AppendReturn(block, r->allow ? 1 : 0);
    for (size_t j : jumps) block[j].off = static_cast<int16_t>(block.size() - j - 1);
    out.insert(out.end(), block.begin(), block.end());
    if (jumps.empty())
      return out;  // matches every access: the rules before it never decide (the verifier
                   // refuses unreachable instructions)
  }
  AppendReturn(out, 0);
  return out;
}

absl::StatusOr<UniqueFd> AttachDeviceFilter(int cgroup_dir,
                                            const std::vector<oci::DeviceRule>& rules,
                                            const UniqueFd& previous) {
  BERTH_ASSIGN_OR_RETURN(std::vector<struct bpf_insn> insns, DeviceFilterProgram(rules));
  static const char kLicense[] = "Apache";
  // Loaded without the verifier's log (a log too small for it fails the load with ENOSPC);
  // when the load fails, again with a large log, for the error.
  std::vector<char> log;
  auto load = [&](uint32_t log_size) {
    log.assign(log_size, '\0');
    union bpf_attr attr {};
    attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
    attr.insns = reinterpret_cast<uintptr_t>(insns.data());
    attr.insn_cnt = static_cast<uint32_t>(insns.size());
    attr.license = reinterpret_cast<uintptr_t>(kLicense);
    attr.log_buf = log_size > 0 ? reinterpret_cast<uintptr_t>(log.data()) : 0;
    attr.log_size = log_size;
    attr.log_level = log_size > 0 ? 1 : 0;
    return UniqueFd(static_cast<int>(Bpf(BPF_PROG_LOAD, attr)));
  };
  UniqueFd prog = load(0);
  if (!prog.valid()) {
    absl::Status s = ErrnoError(errno, "cgroup: load the device filter");
    (void)load(1 << 20);
    std::string verifier(log.data());
    while (!verifier.empty() && verifier.back() == '\n') verifier.pop_back();
    if (verifier.size() > 500)  // its last lines say why
      verifier = "..." + verifier.substr(verifier.size() - 500);
    if (verifier.empty())
      return s;
    return absl::Status(s.code(),
                        fmt::format("{} (verifier: {})", std::string(s.message()), verifier));
  }

  union bpf_attr attach {};

  attach.target_fd = static_cast<uint32_t>(cgroup_dir);
  attach.attach_bpf_fd = static_cast<uint32_t>(prog.get());
  attach.attach_type = BPF_CGROUP_DEVICE;
  attach.attach_flags = BPF_F_ALLOW_MULTI;
  if (Bpf(BPF_PROG_ATTACH, attach) != 0)
    return ErrnoError(errno, "cgroup: attach the device filter");
  if (previous.valid()) {
    union bpf_attr detach {};

    detach.target_fd = static_cast<uint32_t>(cgroup_dir);
    detach.attach_bpf_fd = static_cast<uint32_t>(previous.get());
    detach.attach_type = BPF_CGROUP_DEVICE;
    if (Bpf(BPF_PROG_DETACH, detach) != 0 && errno != ENOENT)
      return ErrnoError(errno, "cgroup: detach the earlier device filter");
  }
  return prog;
}

}  // namespace berth::shim::linux
