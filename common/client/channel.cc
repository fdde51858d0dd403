#include "common/client/channel.h"

#include <fstream>
#include <sstream>

namespace tierwise::client {
namespace {

std::string ReadFileOrEmpty(const std::string& path) {
  if (path.empty()) return "";
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

}  // namespace

std::shared_ptr<grpc::Channel> MakeChannel(const ChannelOptions& options) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 30000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10000);
  if (options.ca_file.empty()) {
    return grpc::CreateCustomChannel(options.address, grpc::InsecureChannelCredentials(), args);
  }
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = ReadFileOrEmpty(options.ca_file);
  ssl.pem_cert_chain = ReadFileOrEmpty(options.cert_file);
  ssl.pem_private_key = ReadFileOrEmpty(options.key_file);
  return grpc::CreateCustomChannel(options.address, grpc::SslCredentials(ssl), args);
}

void Authorize(grpc::ClientContext& context, const std::string& token,
               const std::string& request_id) {
  if (!token.empty()) context.AddMetadata("authorization", "Bearer " + token);
  if (!request_id.empty()) context.AddMetadata("x-request-id", request_id);
}

}  // namespace tierwise::client
