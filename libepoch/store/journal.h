// Private: what every store checks about a batch's journal appends before
// it applies anything (store.h: JournalEntry, Batch::append_journal).
#pragma once

#include <string>

#include "epoch/store.h"

namespace epoch::store {

// The journal a batch appends to ("" when none), or kInvalidArgument for a
// bad name, key or size, or appends to two journals.
inline StatusOr<std::string> journal_of(const Batch& batch) {
  std::string journal;
  for (const WriteOp& op : batch.ops) {
    if (op.kind != WriteOp::Kind::kAppendJournal) continue;
    EPOCH_RETURN_IF_ERROR(check_journal_name(op.journal));
    if (!op.entry) return invalid_argument("journal " + op.journal + ": an append without entry");
    EPOCH_RETURN_IF_ERROR(check_journal_key(op.entry->key));
    if (op.entry->data.size() > kJournalDataMax) {
      return invalid_argument("journal " + op.journal + ": an entry of " +
                              std::to_string(op.entry->data.size()) + " bytes (at most " +
                              std::to_string(kJournalDataMax) + ")");
    }
    if (!journal.empty() && journal != op.journal) {
      return invalid_argument("a batch appends to one journal at most (" + journal + ", " +
                              op.journal + ")");
    }
    journal = op.journal;
  }
  return journal;
}

}  // namespace epoch::store
