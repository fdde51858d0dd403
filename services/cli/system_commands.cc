// `tierwise health` and `tierwise services`: the standard gRPC health and reflection services
// every Tierwise server exposes. Neither needs a token.
#include <google/protobuf/descriptor.h>
#include <google/protobuf/descriptor.pb.h>

#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "services/cli/commands.h"
#include "services/cli/output.h"

namespace tierwise::cli {
namespace {

namespace health = ::grpc::health::v1;
namespace reflection = ::grpc::reflection::v1alpha;

// The optional positional SERVICE (profile, interaction, ...) picks the address; --addr beats it.
absl::StatusOr<Service> TargetService(const ParsedArgs& args) {
  if (args.positional().empty()) return Service::kProfile;
  if (args.positional().size() > 1) {
    return absl::InvalidArgumentError("at most one target service");
  }
  return ParseServiceName(args.positional()[0]);
}

int Health(CliContext& ctx, const ParsedArgs& args) {
  absl::StatusOr<Service> target = TargetService(args);
  if (!target.ok()) return ctx.UsageError(target.status().message());
  auto stub = health::Health::NewStub(ctx.Channel(*target));
  health::HealthCheckRequest request;
  request.set_service(args.Get("service").value_or(""));
  grpc::ClientContext call;
  ctx.PrepareCall(&call, /*authorize=*/false);
  health::HealthCheckResponse response;
  grpc::Status status = stub->Check(&call, request, &response);
  if (!status.ok()) return ctx.PrintError(status);
  ctx.PrintMessage(response);
  return response.status() == health::HealthCheckResponse::SERVING ? kExitOk : kExitFailed;
}

// A method of a service as the reflection service describes it.
struct MethodInfo {
  std::string name;
  std::string input_type;
  std::string output_type;
  bool client_streaming = false;
  bool server_streaming = false;
};

// Finds `service` (fully qualified) among the serialized FileDescriptorProtos of a reflection
// answer (the file that defines it comes with its dependencies, in any order).
bool FindMethods(const reflection::FileDescriptorResponse& files, const std::string& service,
                 std::vector<MethodInfo>* methods) {
  for (const std::string& bytes : files.file_descriptor_proto()) {
    google::protobuf::FileDescriptorProto file;
    if (!file.ParseFromString(bytes)) continue;
    for (const google::protobuf::ServiceDescriptorProto& candidate : file.service()) {
      std::string full_name = file.package().empty()
                                  ? candidate.name()
                                  : absl::StrCat(file.package(), ".", candidate.name());
      if (full_name != service) continue;
      for (const google::protobuf::MethodDescriptorProto& method : candidate.method()) {
        // Types come fully qualified with a leading dot: ".tierwise.profile.v1.Customer".
        auto strip_dot = [](const std::string& type) {
          return !type.empty() && type[0] == '.' ? type.substr(1) : type;
        };
        methods->push_back({method.name(), strip_dot(method.input_type()),
                            strip_dot(method.output_type()), method.client_streaming(),
                            method.server_streaming()});
      }
      return true;
    }
  }
  return false;
}

// What --methods found out about one service.
struct ServiceMethods {
  std::vector<MethodInfo> methods;
  std::string source;  // "" when from the server's reflection, "client" from our own descriptors
  std::string error;   // set when neither knows the service
};

// The methods of `service` from the descriptors linked into this binary (health, reflection).
bool LocalMethods(const std::string& service, std::vector<MethodInfo>* methods) {
  const google::protobuf::ServiceDescriptor* descriptor =
      google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(service);
  if (descriptor == nullptr) return false;
  for (int i = 0; i < descriptor->method_count(); ++i) {
    const google::protobuf::MethodDescriptor* method = descriptor->method(i);
    methods->push_back({method->name(), method->input_type()->full_name(),
                        method->output_type()->full_name(), method->client_streaming(),
                        method->server_streaming()});
  }
  return true;
}

std::string MethodJson(const MethodInfo& method) {
  std::string json = absl::StrCat("{\"name\": ", JsonQuote(method.name),
                                  ", \"input_type\": ", JsonQuote(method.input_type),
                                  ", \"output_type\": ", JsonQuote(method.output_type));
  if (method.client_streaming) absl::StrAppend(&json, ", \"client_streaming\": true");
  if (method.server_streaming) absl::StrAppend(&json, ", \"server_streaming\": true");
  return absl::StrCat(json, "}");
}

grpc::Status ReflectionError(const reflection::ErrorResponse& error) {
  return grpc::Status(static_cast<grpc::StatusCode>(error.error_code()),
                      absl::StrCat("reflection: ", error.error_message()));
}

int Services(CliContext& ctx, const ParsedArgs& args) {
  absl::StatusOr<Service> target = TargetService(args);
  if (!target.ok()) return ctx.UsageError(target.status().message());
  bool with_methods = args.Has("methods");
  auto stub = reflection::ServerReflection::NewStub(ctx.Channel(*target));
  grpc::ClientContext call;
  ctx.PrepareCall(&call, /*authorize=*/false);
  auto stream = stub->ServerReflectionInfo(&call);

  // One request, one response, in order, on the same stream.
  auto ask = [&](const reflection::ServerReflectionRequest& request,
                 reflection::ServerReflectionResponse* response) {
    return stream->Write(request) && stream->Read(response);
  };
  auto fail = [&]() {
    stream->WritesDone();
    grpc::Status status = stream->Finish();
    if (status.ok()) {
      status = grpc::Status(grpc::StatusCode::INTERNAL, "reflection stream ended early");
    }
    return ctx.PrintError(status);
  };

  reflection::ServerReflectionRequest list_request;
  list_request.set_list_services("*");
  reflection::ServerReflectionResponse list_response;
  if (!ask(list_request, &list_response)) return fail();
  if (list_response.has_error_response()) {
    return ctx.PrintError(ReflectionError(list_response.error_response()));
  }
  std::vector<std::string> names;
  for (const auto& service : list_response.list_services_response().service()) {
    names.push_back(service.name());
  }
  std::sort(names.begin(), names.end());

  std::map<std::string, ServiceMethods> methods;
  if (with_methods) {
    for (const std::string& name : names) {
      reflection::ServerReflectionRequest request;
      request.set_file_containing_symbol(name);
      reflection::ServerReflectionResponse response;
      if (!ask(request, &response)) return fail();
      ServiceMethods& found = methods[name];
      if (!response.has_error_response() &&
          FindMethods(response.file_descriptor_response(), name, &found.methods)) {
        continue;
      }
      // gRPC's built-in health service is served without a descriptor in the server's pool, so
      // reflection lists it but cannot describe it. The CLI knows standard services itself.
      if (LocalMethods(name, &found.methods)) {
        found.source = "client";
        continue;
      }
      found.error = response.has_error_response()
                        ? ReflectionError(response.error_response()).error_message()
                        : "reflection returned no descriptor of this service";
    }
  }
  stream->WritesDone();
  if (grpc::Status status = stream->Finish(); !status.ok()) return ctx.PrintError(status);

  std::vector<std::string> entries;
  for (const std::string& name : names) {
    std::string entry = absl::StrCat("    {\"name\": ", JsonQuote(name));
    if (with_methods) {
      entry = absl::StrCat("    {\n      \"name\": ", JsonQuote(name));
      const ServiceMethods& found = methods[name];
      if (!found.error.empty()) {
        absl::StrAppend(&entry, ",\n      \"error\": ", JsonQuote(found.error), "\n    }");
      } else {
        std::vector<std::string> method_entries;
        for (const MethodInfo& method : found.methods) {
          method_entries.push_back(absl::StrCat("        ", MethodJson(method)));
        }
        if (!found.source.empty()) {
          absl::StrAppend(&entry, ",\n      \"descriptor_from\": ", JsonQuote(found.source));
        }
        absl::StrAppend(&entry, ",\n      \"methods\": [\n", absl::StrJoin(method_entries, ",\n"),
                        "\n      ]\n    }");
      }
    } else {
      absl::StrAppend(&entry, "}");
    }
    entries.push_back(entry);
  }
  ctx.out() << "{\n  \"services\": [\n" << absl::StrJoin(entries, ",\n") << "\n  ]\n}\n";
  return kExitOk;
}

}  // namespace

void RegisterSystemCommands(CommandTable& table) {
  table.Add({
      .resource = "health",
      .verb = "",
      .synopsis = "[profile|interaction|credit|classification] [--service NAME]",
      .summary = "gRPC health check (no token); exit 0 only when SERVING. --service asks about "
                 "one gRPC service, e.g. tierwise.profile.v1.CustomerProfileService.",
      .options = {{"service"}},
      .run = Health,
  });
  table.Add({
      .resource = "services",
      .verb = "",
      .synopsis = "[profile|interaction|credit|classification] [--methods]",
      .summary = "List the gRPC services a server offers (server reflection); --methods adds "
                 "each one's methods.",
      .options = {{"methods", false}},
      .run = Services,
  });
}

}  // namespace tierwise::cli
