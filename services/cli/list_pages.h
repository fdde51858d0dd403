#ifndef TIERWISE_SERVICES_CLI_LIST_PAGES_H_
#define TIERWISE_SERVICES_CLI_LIST_PAGES_H_

#include <grpcpp/grpcpp.h>

#include <set>
#include <string>
#include <utility>
#include <vector>

#include "services/cli/args.h"
#include "services/cli/cli_context.h"
#include "services/cli/command.h"
#include "services/cli/output.h"

namespace tierwise::cli {

// The options every list command takes.
inline const std::vector<OptionSpec>& PageOptions() {
  static const auto* const kOptions =
      new std::vector<OptionSpec>{{"page-size"}, {"page-token"}, {"all", false}};
  return *kOptions;
}

// Makes a list call page after page, from the request's page token to the last page, and hands
// each response to `each(response)`. Stops at the first failed call and returns its status;
// INTERNAL when the server hands out a page token twice. `call(context, request, response)`
// makes the RPC; each call is prepared by ctx (deadline, token).
template <typename Request, typename Response, typename Call, typename Each>
grpc::Status ForEachPage(CliContext& ctx, Request request, Call call, Each each) {
  std::set<std::string> seen_tokens;
  while (true) {
    grpc::ClientContext context;
    ctx.PrepareCall(&context);
    Response response;
    grpc::Status status = call(&context, request, &response);
    if (!status.ok()) return status;
    each(response);
    if (response.next_page_token().empty()) return grpc::Status::OK;
    if (!seen_tokens.insert(response.next_page_token()).second) {
      return grpc::Status(grpc::StatusCode::INTERNAL, "server repeated a page token; stopping");
    }
    request.set_page_token(response.next_page_token());
  }
}

// Runs a list call page by page when --all is given (one compact JSON object per line), else
// once with --page-size/--page-token (the response as it comes). `call(context, request,
// response)` makes the RPC; `items(response)` returns the repeated field to print.
template <typename Request, typename Response, typename Call, typename Items>
int ListPages(CliContext& ctx, const ParsedArgs& args, Request request, Call call, Items items) {
  absl::StatusOr<int> page_size = args.GetInt("page-size", 0);
  if (!page_size.ok() || *page_size < 0) return ctx.UsageError("--page-size needs a number >= 0");
  request.set_page_size(*page_size);
  request.set_page_token(args.Get("page-token").value_or(""));
  if (!args.Has("all")) {
    grpc::ClientContext context;
    ctx.PrepareCall(&context);
    Response response;
    return ctx.Finish(call(&context, request, &response), response);
  }
  grpc::Status status =
      ForEachPage<Request, Response>(ctx, std::move(request), call, [&](const Response& response) {
        for (const auto& item : items(response)) {
          ctx.out() << MessageToJson(item, /*pretty=*/false) << "\n";
        }
      });
  return status.ok() ? kExitOk : ctx.PrintError(status);
}

}  // namespace tierwise::cli

#endif  // TIERWISE_SERVICES_CLI_LIST_PAGES_H_
