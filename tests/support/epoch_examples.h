// Test support: request bodies from Epoch's reference (epoch-reference.md),
// verbatim, shared by the model tests and the HTTP tests.
#pragma once

#include <string>

namespace epoch::test {

// The full create example of §2.9 (POST /apis/v1/topologies).
inline constexpr const char* kEpochFullCreate = R"({
  "name": "daily-report",
  "task": {
    "type": "CONTAINER_EXECUTION",
    "taskName": "docker-task",
    "executable": {"type": "DOCKER", "url": "docker.io/library/busybox:1.36", "dockerPullTimeout": "120 seconds"},
    "resources": [{"type": "CPU", "count": 1}, {"type": "MEMORY", "sizeInMB": 512}],
    "volumes": [{"pathInContainer": "/data", "pathOnHost": "/mnt/data", "mode": "READ_ONLY"}],
    "configs": [{"type": "INLINE", "localFilename": "/etc/report.conf", "data": "a2V5PXZhbHVlCg=="}],
    "logging": {"type": "LOCAL", "maxSize": "10m", "maxFiles": 3, "compress": true},
    "placementPolicy": {"type": "ANY"},
    "tags": {"team": "infra"},
    "env": {"MODE": "daily"},
    "args": ["--verbose"]
  },
  "trigger": {"type": "CRON", "timeSpec": "0 0 6 * * ?"},
  "notify": {"type": "MAIL", "emails": ["oncall@example.com"]}
})";

// EpochTopologyDetails of the §2.9 example as Epoch-Java stores it in
// ZooKeeper (/epoch/topologies/daily-report), in `state`.
inline std::string epoch_details_json(const std::string& state) {
  return std::string(R"({"id":"daily-report","topology":)") + kEpochFullCreate +
         R"(,"state":")" + state + R"(","created":1729200000000,"updated":1729200100000})";
}

// A run of it as Epoch-Java stores it (/epoch/runs/daily-report/<id>), the
// run in `state` and its task in `task_state` (§2.7).
inline std::string epoch_run_json(const std::string& state, const std::string& task_state) {
  return R"({"topologyId":"daily-report","runId":"ESR-2024-10-18-06-00-00-000","state":")" +
         state + R"(","message":")" + (state == "RUNNING" ? "Job started" : "Task successful") +
         R"(","tasks":{"docker-task":{"taskId":"daily-report-ESR-2024-10-18-06-00-00-000-docker-task",)"
         R"("state":")" +
         task_state +
         R"(","upstreamId":"daily-report-ESR-2024-10-18-06-00-00-000-docker-task",)"
         R"("errorMessage":""}},"runType":"SCHEDULED","created":1729231200012,)"
         R"("updated":1729231265530})";
}

}  // namespace epoch::test
