// The conformance suite, once per backend.

#include "snapshotter/snapshotter.h"
#include "snapshotter/testsuite/testsuite.h"

namespace berth::snapshot::testsuite {
namespace {

INSTANTIATE_TEST_SUITE_P(Backends, SnapshotterSuite,
                         ::testing::Values(Backend{"overlayfs", &NewOverlay},
                                           Backend{"native", &NewNative}),
                         BackendName);

}  // namespace
}  // namespace berth::snapshot::testsuite
