// Test support: request bodies from Epoch's reference (epoch-reference.md),
// verbatim, shared by the model tests and the HTTP tests.
#pragma once

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

}  // namespace epoch::test
