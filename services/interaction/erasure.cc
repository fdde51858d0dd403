#include "services/interaction/erasure.h"

#include <set>

#include "absl/strings/str_join.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/reflection.h"

namespace tierwise::interaction {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;

// Replaces the text of every string field not in `kept`, in nested messages too (which keep
// nothing: Timestamp and Date hold no text). Returns whether anything changed.
bool Scrub(Message& message, const std::set<std::string>& kept) {
  bool changed = false;
  const google::protobuf::Descriptor* d = message.GetDescriptor();
  const google::protobuf::Reflection* r = message.GetReflection();
  if (!r->GetUnknownFields(message).empty()) {
    r->MutableUnknownFields(&message)->Clear();
    changed = true;
  }
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    if (kept.count(f->name()) > 0) continue;
    if (f->is_repeated()) {
      if (f->cpp_type() == FieldDescriptor::CPPTYPE_STRING && r->FieldSize(message, f) > 0) {
        r->ClearField(&message, f);
        changed = true;
      } else if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
        for (int j = 0; j < r->FieldSize(message, f); ++j) {
          changed = Scrub(*r->MutableRepeatedMessage(&message, f, j), {}) || changed;
        }
      }
      continue;
    }
    if (f->cpp_type() == FieldDescriptor::CPPTYPE_STRING) {
      const std::string value = r->GetString(message, f);
      if (!value.empty() && value != kErasedText) {
        r->SetString(&message, f, kErasedText);
        changed = true;
      }
    } else if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE && r->HasField(message, f)) {
      changed = Scrub(*r->MutableMessage(&message, f), {}) || changed;
    }
  }
  return changed;
}

}  // namespace

bool ScrubInteraction(v1::Interaction& record) {
  // Ids, the principals who made and entered the contact, and the stamped tier.
  static const std::set<std::string> kKept = {
      "id", "customer_id", "owner", "tier", "corrects", "superseded_by", "root_id", "recorded_by"};
  return Scrub(record, kKept);
}

bool ScrubComplaint(v1::Complaint& complaint) {
  static const std::set<std::string> kKept = {"id", "customer_id", "owner", "tier", "opened_by"};
  return Scrub(complaint, kKept);
}

std::string ChangedWritableFields(const v1::Interaction& a, const v1::Interaction& b) {
  std::vector<std::string> changed;
  auto check = [&](bool differs, const char* name) {
    if (differs) changed.push_back(name);
  };
  check(a.occurred_at().SerializeAsString() != b.occurred_at().SerializeAsString(), "occurred_at");
  check(a.channel() != b.channel(), "channel");
  check(a.summary() != b.summary(), "summary");
  check(a.satisfaction() != b.satisfaction(), "satisfaction");
  check(a.contact_name() != b.contact_name(), "contact_name");
  check(a.contact_role() != b.contact_role(), "contact_role");
  check(a.owner() != b.owner(), "owner");
  check(a.special_items() != b.special_items(), "special_items");
  check(a.conclusion() != b.conclusion(), "conclusion");
  check(a.next_follow_up_date().SerializeAsString() != b.next_follow_up_date().SerializeAsString(),
        "next_follow_up_date");
  check(a.purchase_intent() != b.purchase_intent(), "purchase_intent");
  check(a.executive_contact() != b.executive_contact(), "executive_contact");
  return absl::StrJoin(changed, ", ");
}

}  // namespace tierwise::interaction
