#include "common/client/channel.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "common/status/macros.h"

namespace tierwise::client {
namespace {

std::string ReadFileOrEmpty(const std::string& path) {
  if (path.empty()) return "";
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// The PEM text of `path`, given by option `name`.
absl::StatusOr<std::string> ReadPem(const std::string& path, const std::string& name) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat(name, ": cannot read ", path, " (", std::strerror(errno), ")"));
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  std::string text = buffer.str();
  if (in.bad()) return absl::NotFoundError(absl::StrCat(name, ": cannot read ", path));
  if (text.find("-----BEGIN ") == std::string::npos) {
    return absl::NotFoundError(absl::StrCat(name, ": ", path, " holds no PEM block"));
  }
  return text;
}

grpc::ChannelArguments DefaultArguments() {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 30000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10000);
  return args;
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeChannelCredentials(
    const ChannelOptions& options, const TlsFileNames& names) {
  if (options.cert_file.empty() != options.key_file.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(options.cert_file.empty() ? names.cert_file : names.key_file, ": ",
                     names.cert_file, " and ", names.key_file, " must be given together"));
  }
  if (options.ca_file.empty()) {
    if (!options.cert_file.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(names.ca_file, ": a client certificate (", names.cert_file,
                       ") needs TLS: give the CA that signed the server's certificate"));
    }
    return grpc::InsecureChannelCredentials();
  }
  grpc::SslCredentialsOptions ssl;
  TW_ASSIGN_OR_RETURN(std::string ca, ReadPem(options.ca_file, names.ca_file));
  ssl.pem_root_certs = std::move(ca);
  if (!options.cert_file.empty()) {
    TW_ASSIGN_OR_RETURN(std::string cert, ReadPem(options.cert_file, names.cert_file));
    TW_ASSIGN_OR_RETURN(std::string key, ReadPem(options.key_file, names.key_file));
    ssl.pem_cert_chain = std::move(cert);
    ssl.pem_private_key = std::move(key);
  }
  return grpc::SslCredentials(ssl);
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> OpenChannel(const ChannelOptions& options,
                                                           const TlsFileNames& names) {
  TW_ASSIGN_OR_RETURN(std::shared_ptr<grpc::ChannelCredentials> credentials,
                      MakeChannelCredentials(options, names));
  return grpc::CreateCustomChannel(options.address, credentials, DefaultArguments());
}

std::shared_ptr<grpc::Channel> MakeChannel(const ChannelOptions& options) {
  grpc::ChannelArguments args = DefaultArguments();
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
