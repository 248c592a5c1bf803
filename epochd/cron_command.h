// epochd's `cron` subcommand: preview and check Quartz cron expressions.
#pragma once

#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

namespace epochd {

// Runs `epochd cron <args...>`. Returns the process exit code: 0 on success,
// 2 on an invalid expression, zone, instant or option (message on `err`).
int run_cron_command(const std::vector<std::string>& args, std::istream& in, std::ostream& out,
                     std::ostream& err);

// One case of the Quartz vectors' JSON-lines format in, one result line out:
// {"id":…,"valid":…,"error":…,"next_ms":[…],"exhausted":…}. A line that is not
// a JSON object with "expr" gives {"id":…,"valid":false,"error":"input line: …"}.
std::string check_case_line(std::string_view line, int max_year);

}  // namespace epochd
