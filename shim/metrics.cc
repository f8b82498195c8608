#include "shim/metrics.h"

#include <string_view>
#include <utility>

namespace berth::shim {
namespace {

namespace v1 = ::io::containerd::cgroups::v1;
namespace v2 = ::io::containerd::cgroups::v2;

// A kernel key and the message's setter for it.
template <typename Message>
struct Field {
  std::string_view key;
  void (Message::*set)(uint64_t);
};

template <typename Message, size_t N>
void SetFields(const linux::KeyValues& kvs, const Field<Message> (&fields)[N], Message* m) {
  for (const auto& [k, v] : kvs) {
    for (const Field<Message>& f : fields) {
      if (f.key == k) {
        (m->*f.set)(v);
        break;
      }
    }
  }
}

constexpr Field<v1::MemoryStat> kV1MemoryStat[] = {
    {"cache", &v1::MemoryStat::set_cache},
    {"rss", &v1::MemoryStat::set_rss},
    {"rss_huge", &v1::MemoryStat::set_rss_huge},
    {"mapped_file", &v1::MemoryStat::set_mapped_file},
    {"dirty", &v1::MemoryStat::set_dirty},
    {"writeback", &v1::MemoryStat::set_writeback},
    {"pgpgin", &v1::MemoryStat::set_pg_pg_in},
    {"pgpgout", &v1::MemoryStat::set_pg_pg_out},
    {"pgfault", &v1::MemoryStat::set_pg_fault},
    {"pgmajfault", &v1::MemoryStat::set_pg_maj_fault},
    {"inactive_anon", &v1::MemoryStat::set_inactive_anon},
    {"active_anon", &v1::MemoryStat::set_active_anon},
    {"inactive_file", &v1::MemoryStat::set_inactive_file},
    {"active_file", &v1::MemoryStat::set_active_file},
    {"unevictable", &v1::MemoryStat::set_unevictable},
    {"hierarchical_memory_limit", &v1::MemoryStat::set_hierarchical_memory_limit},
    {"hierarchical_memsw_limit", &v1::MemoryStat::set_hierarchical_swap_limit},
    {"total_cache", &v1::MemoryStat::set_total_cache},
    {"total_rss", &v1::MemoryStat::set_total_rss},
    {"total_rss_huge", &v1::MemoryStat::set_total_rss_huge},
    {"total_mapped_file", &v1::MemoryStat::set_total_mapped_file},
    {"total_dirty", &v1::MemoryStat::set_total_dirty},
    {"total_writeback", &v1::MemoryStat::set_total_writeback},
    {"total_pgpgin", &v1::MemoryStat::set_total_pg_pg_in},
    {"total_pgpgout", &v1::MemoryStat::set_total_pg_pg_out},
    {"total_pgfault", &v1::MemoryStat::set_total_pg_fault},
    {"total_pgmajfault", &v1::MemoryStat::set_total_pg_maj_fault},
    {"total_inactive_anon", &v1::MemoryStat::set_total_inactive_anon},
    {"total_active_anon", &v1::MemoryStat::set_total_active_anon},
    {"total_inactive_file", &v1::MemoryStat::set_total_inactive_file},
    {"total_active_file", &v1::MemoryStat::set_total_active_file},
    {"total_unevictable", &v1::MemoryStat::set_total_unevictable},
};

constexpr Field<v1::MemoryOomControl> kV1OomControl[] = {
    {"oom_kill_disable", &v1::MemoryOomControl::set_oom_kill_disable},
    {"under_oom", &v1::MemoryOomControl::set_under_oom},
    {"oom_kill", &v1::MemoryOomControl::set_oom_kill},
};

constexpr Field<v2::MemoryStat> kV2MemoryStat[] = {
    {"anon", &v2::MemoryStat::set_anon},
    {"file", &v2::MemoryStat::set_file},
    {"kernel_stack", &v2::MemoryStat::set_kernel_stack},
    {"slab", &v2::MemoryStat::set_slab},
    {"sock", &v2::MemoryStat::set_sock},
    {"shmem", &v2::MemoryStat::set_shmem},
    {"file_mapped", &v2::MemoryStat::set_file_mapped},
    {"file_dirty", &v2::MemoryStat::set_file_dirty},
    {"file_writeback", &v2::MemoryStat::set_file_writeback},
    {"anon_thp", &v2::MemoryStat::set_anon_thp},
    {"inactive_anon", &v2::MemoryStat::set_inactive_anon},
    {"active_anon", &v2::MemoryStat::set_active_anon},
    {"inactive_file", &v2::MemoryStat::set_inactive_file},
    {"active_file", &v2::MemoryStat::set_active_file},
    {"unevictable", &v2::MemoryStat::set_unevictable},
    {"slab_reclaimable", &v2::MemoryStat::set_slab_reclaimable},
    {"slab_unreclaimable", &v2::MemoryStat::set_slab_unreclaimable},
    {"pgfault", &v2::MemoryStat::set_pgfault},
    {"pgmajfault", &v2::MemoryStat::set_pgmajfault},
    {"workingset_refault", &v2::MemoryStat::set_workingset_refault},
    {"workingset_activate", &v2::MemoryStat::set_workingset_activate},
    {"workingset_nodereclaim", &v2::MemoryStat::set_workingset_nodereclaim},
    {"pgrefill", &v2::MemoryStat::set_pgrefill},
    {"pgscan", &v2::MemoryStat::set_pgscan},
    {"pgsteal", &v2::MemoryStat::set_pgsteal},
    {"pgactivate", &v2::MemoryStat::set_pgactivate},
    {"pgdeactivate", &v2::MemoryStat::set_pgdeactivate},
    {"pglazyfree", &v2::MemoryStat::set_pglazyfree},
    {"pglazyfreed", &v2::MemoryStat::set_pglazyfreed},
    {"thp_fault_alloc", &v2::MemoryStat::set_thp_fault_alloc},
    {"thp_collapse_alloc", &v2::MemoryStat::set_thp_collapse_alloc},
};

constexpr Field<v2::MemoryEvents> kV2MemoryEvents[] = {
    {"low", &v2::MemoryEvents::set_low},           {"high", &v2::MemoryEvents::set_high},
    {"max", &v2::MemoryEvents::set_max},           {"oom", &v2::MemoryEvents::set_oom},
    {"oom_kill", &v2::MemoryEvents::set_oom_kill},
};

void SetEntry(const linux::MemoryCounter& c, v1::MemoryEntry* e) {
  e->set_usage(c.usage);
  e->set_max(c.max);
  e->set_limit(c.limit);
  e->set_failcnt(c.failcnt);
}

// The v1 BlkIOStat list a blkio file's lines go to: the CFQ/BFQ file or its throttling twin.
google::protobuf::RepeatedPtrField<v1::BlkIOEntry>* BlkioList(const std::string& file,
                                                              v1::BlkIOStat* b) {
  if (file == "io_service_bytes_recursive" || file == "throttle.io_service_bytes")
    return b->mutable_io_service_bytes_recursive();
  if (file == "io_serviced_recursive" || file == "throttle.io_serviced")
    return b->mutable_io_serviced_recursive();
  if (file == "io_queued_recursive")
    return b->mutable_io_queued_recursive();
  if (file == "io_service_time_recursive")
    return b->mutable_io_service_time_recursive();
  if (file == "io_wait_time_recursive")
    return b->mutable_io_wait_time_recursive();
  if (file == "io_merged_recursive")
    return b->mutable_io_merged_recursive();
  if (file == "time_recursive")
    return b->mutable_io_time_recursive();
  if (file == "sectors_recursive")
    return b->mutable_sectors_recursive();
  return nullptr;
}

}  // namespace

v1::Metrics V1Metrics(const linux::CgroupStats& s) {
  v1::Metrics m;
  m.mutable_pids()->set_current(s.pids_current);
  m.mutable_pids()->set_limit(s.pids_limit);
  v1::CPUUsage* usage = m.mutable_cpu()->mutable_usage();
  usage->set_total(s.cpu_usage_ns);
  usage->set_user(s.cpu_user_ns);
  usage->set_kernel(s.cpu_system_ns);
  for (uint64_t ns : s.cpu_per_cpu_ns) usage->add_per_cpu(ns);
  v1::Throttle* t = m.mutable_cpu()->mutable_throttling();
  t->set_periods(s.cpu_periods);
  t->set_throttled_periods(s.cpu_throttled_periods);
  t->set_throttled_time(s.cpu_throttled_ns);
  v1::MemoryStat* mem = m.mutable_memory();
  SetFields(s.memory_stat, kV1MemoryStat, mem);
  SetEntry(s.memory, mem->mutable_usage());
  if (s.swap)
    SetEntry(*s.swap, mem->mutable_swap());
  if (s.kernel)
    SetEntry(*s.kernel, mem->mutable_kernel());
  if (s.kernel_tcp)
    SetEntry(*s.kernel_tcp, mem->mutable_kernel_tcp());
  SetFields(s.memory_events, kV1OomControl, m.mutable_memory_oom_control());
  v1::BlkIOStat* blkio = m.mutable_blkio();
  for (const linux::DeviceStat& d : s.io) {
    auto* list = BlkioList(d.file, blkio);
    if (list == nullptr)
      continue;
    v1::BlkIOEntry* e = list->Add();
    e->set_op(d.key);
    e->set_device(d.device);
    e->set_major(d.major);
    e->set_minor(d.minor);
    e->set_value(d.value);
  }
  return m;
}

v2::Metrics V2Metrics(const linux::CgroupStats& s) {
  v2::Metrics m;
  m.mutable_pids()->set_current(s.pids_current);
  m.mutable_pids()->set_limit(s.pids_limit);
  v2::CPUStat* cpu = m.mutable_cpu();
  cpu->set_usage_usec(s.cpu_usage_ns / 1000);
  cpu->set_user_usec(s.cpu_user_ns / 1000);
  cpu->set_system_usec(s.cpu_system_ns / 1000);
  cpu->set_nr_periods(s.cpu_periods);
  cpu->set_nr_throttled(s.cpu_throttled_periods);
  cpu->set_throttled_usec(s.cpu_throttled_ns / 1000);
  v2::MemoryStat* mem = m.mutable_memory();
  SetFields(s.memory_stat, kV2MemoryStat, mem);
  mem->set_usage(s.memory.usage);
  mem->set_usage_limit(s.memory.limit);
  if (s.swap) {
    mem->set_swap_usage(s.swap->usage);
    mem->set_swap_limit(s.swap->limit);
  }
  SetFields(s.memory_events, kV2MemoryEvents, m.mutable_memory_events());
  // io.stat gives a device's keys on one line: one IOEntry per device, in the file's order.
  v2::IOEntry* e = nullptr;
  for (const linux::DeviceStat& d : s.io) {
    if (e == nullptr || e->major() != d.major || e->minor() != d.minor) {
      e = m.mutable_io()->add_usage();
      e->set_major(d.major);
      e->set_minor(d.minor);
    }
    if (d.key == "rbytes")
      e->set_rbytes(d.value);
    else if (d.key == "wbytes")
      e->set_wbytes(d.value);
    else if (d.key == "rios")
      e->set_rios(d.value);
    else if (d.key == "wios")
      e->set_wios(d.value);
  }
  for (const linux::HugetlbStat& h : s.hugetlb) {
    v2::HugeTlbStat* out = m.add_hugetlb();
    out->set_pagesize(h.pagesize);
    out->set_current(h.usage);
    out->set_max(h.max);
  }
  return m;
}

}  // namespace berth::shim
