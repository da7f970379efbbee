// `bmslink serve` and `bmslink user add` (serve_cmd.cc).
#pragma once

#include <string>
#include <vector>

namespace bmslink::app {

struct ServeArgs {
  std::string bind = "127.0.0.1", db;
  int port = 8080;
  bool team = false;
  double max_upload_mb = 2048;
  std::vector<std::string> samples;  // analysed into a demo case on the first start
  std::string live;                  // IFACE for the live page
};

struct UserArgs {
  std::string name, role = "technician", db;
};

int cmd_serve(const ServeArgs& args);
int cmd_user_add(const UserArgs& args);

}  // namespace bmslink::app
