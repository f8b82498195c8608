// berth-rpc-bench SOCKET [CALLS]: the round-trip time of a small unary call (containerd's
// version.Version) over SOCKET, sequential calls on one channel, as ctr makes them. Prints the
// median and the 90th percentile in microseconds. Works against berthd and containerd alike.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"

#include "containerd/services/version/v1/version.grpc.pb.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: berth-rpc-bench SOCKET [CALLS]\n");
    return 2;
  }
  int calls = argc > 2 ? std::stoi(argv[2]) : 2000;
  auto channel = grpc::CreateChannel(std::string("unix:") + argv[1], grpc::InsecureChannelCredentials());
  auto stub = containerd::services::version::v1::Version::NewStub(channel);
  std::vector<double> us;
  for (int i = 0; i < calls + 50; ++i) {
    grpc::ClientContext ctx;
    google::protobuf::Empty req;
    containerd::services::version::v1::VersionResponse resp;
    auto t0 = std::chrono::steady_clock::now();
    grpc::Status s = stub->Version(&ctx, req, &resp);
    auto t1 = std::chrono::steady_clock::now();
    if (!s.ok()) {
      std::fprintf(stderr, "berth-rpc-bench: %s: %s\n", argv[1], s.error_message().c_str());
      return 1;
    }
    if (i >= 50)  // the first calls connect and warm up
      us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
  }
  std::sort(us.begin(), us.end());
  std::printf("%s: %d calls, median %.0f us, p90 %.0f us\n", argv[1], calls, us[us.size() / 2],
              us[us.size() * 9 / 10]);
  return 0;
}
