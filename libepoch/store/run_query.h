// RunQuery evaluated in memory (stores without a query engine).
#pragma once

#include <algorithm>
#include <vector>

#include "epoch/store.h"

namespace epoch::store {

inline bool matches(const RunInfo& r, const RunQuery& q) {
  if (!q.states.empty() && std::find(q.states.begin(), q.states.end(), r.state) == q.states.end()) {
    return false;
  }
  if (!q.types.empty() && std::find(q.types.begin(), q.types.end(), r.run_type) == q.types.end()) {
    return false;
  }
  return !q.before || r.updated < *q.before;
}

// Newest first (by `updated`, then run id), cut to the query's limit.
inline void order_and_limit(std::vector<RunRecord>& runs, const RunQuery& q) {
  std::sort(runs.begin(), runs.end(), [](const RunRecord& a, const RunRecord& b) {
    return a.run.updated != b.run.updated ? a.run.updated > b.run.updated
                                          : a.run.run_id > b.run.run_id;
  });
  if (q.limit != 0 && runs.size() > q.limit) runs.resize(q.limit);
}

}  // namespace epoch::store
