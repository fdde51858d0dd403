#include "services/profile/customer_validation.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace tierwise::profile {
namespace {

constexpr absl::string_view kCreditCodeAlphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY";
constexpr int kCreditCodeWeights[17] = {1,  3,  9,  27, 19, 26, 16, 17, 20,
                                        29, 25, 13, 8,  24, 10, 30, 28};

// Length in code points, so a Chinese name counts characters, not bytes.
size_t Utf8Length(absl::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

bool IsValidUtf8(absl::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = s[i];
    int extra = 0;
    if (c >= 0x80) {
      if ((c >> 5) == 0x6) {
        extra = 1;
      } else if ((c >> 4) == 0xE) {
        extra = 2;
      } else if ((c >> 3) == 0x1E) {
        extra = 3;
      } else {
        return false;
      }
    }
    for (int k = 1; k <= extra; ++k) {
      if (i + k >= s.size() || (static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    }
    i += extra + 1;
  }
  return true;
}

void CheckText(absl::string_view value, size_t max, const std::string& field,
               status::ViolationList& v) {
  if (!IsValidUtf8(value)) {
    v.Add(field, "must be valid UTF-8");
  } else if (Utf8Length(value) > max) {
    v.Add(field, absl::StrCat("must be at most ", max, " characters"));
  }
}

void CheckMoney(const type::v1::Money& money, const std::string& field, bool has,
                status::ViolationList& v) {
  if (!has) return;
  if (money.minor_units() < 0) v.Add(field + ".minor_units", "must not be negative");
  const std::string& c = money.currency();
  bool ok = c.size() == 3;
  for (char ch : c) ok = ok && absl::ascii_isupper(ch);
  if (!ok) v.Add(field + ".currency", "must be an ISO 4217 code such as CNY");
}

void CheckDate(const type::v1::Date& d, const std::string& field, bool has,
               status::ViolationList& v) {
  if (!has || (d.year() == 0 && d.month() == 0 && d.day() == 0)) return;
  static constexpr int kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (d.year() % 4 == 0 && d.year() % 100 != 0) || d.year() % 400 == 0;
  if (d.year() < 1800 || d.year() > 2200 || d.month() < 1 || d.month() > 12 || d.day() < 1 ||
      d.day() > kDays[d.month() - 1] || (d.month() == 2 && d.day() == 29 && !leap)) {
    v.Add(field, "is not a valid calendar date");
  }
}

}  // namespace

bool IsValidUnifiedCreditCode(absl::string_view code) {
  if (code.size() != 18) return false;
  int sum = 0;
  for (int i = 0; i < 17; ++i) {
    const auto pos = kCreditCodeAlphabet.find(code[i]);
    if (pos == absl::string_view::npos) return false;
    sum += static_cast<int>(pos) * kCreditCodeWeights[i];
  }
  int check = 31 - sum % 31;
  if (check == 31) check = 0;
  return code[17] == kCreditCodeAlphabet[check];
}

bool IsValidEmail(absl::string_view email) {
  if (email.size() > 254) return false;
  const auto at = email.find('@');
  if (at == absl::string_view::npos || at == 0 || email.rfind('@') != at) return false;
  const absl::string_view local = email.substr(0, at);
  const absl::string_view domain = email.substr(at + 1);
  if (local.size() > 64) return false;
  for (char c : local) {
    if (!(absl::ascii_isalnum(c) ||
          absl::string_view("._%+-").find(c) != absl::string_view::npos)) {
      return false;
    }
  }
  if (local.front() == '.' || local.back() == '.') return false;
  const auto dot = domain.rfind('.');
  if (dot == absl::string_view::npos || dot == 0 || dot + 2 > domain.size()) return false;
  for (char c : domain) {
    if (!(absl::ascii_isalnum(c) || c == '-' || c == '.')) return false;
  }
  if (domain.find("..") != absl::string_view::npos || domain.front() == '-' ||
      domain.front() == '.') {
    return false;
  }
  for (size_t i = dot + 1; i < domain.size(); ++i) {
    if (!absl::ascii_isalpha(domain[i])) return false;  // TLD is letters
  }
  return true;
}

bool IsValidPhone(absl::string_view phone) {
  int digits = 0;
  for (size_t i = 0; i < phone.size(); ++i) {
    const char c = phone[i];
    if (absl::ascii_isdigit(c)) {
      ++digits;
    } else if (c == '+') {
      if (i != 0) return false;
    } else if (c != ' ' && c != '-' && c != '(' && c != ')') {
      return false;
    }
  }
  return digits >= 5 && digits <= 20;
}

bool IsValidExternalRef(absl::string_view ref) {
  if (ref.empty() || ref.size() > kMaxExternalRefLength) return false;
  for (char c : ref) {
    if (!(absl::ascii_isalnum(c) || c == '.' || c == '_' || c == '-' || c == '/')) return false;
  }
  return true;
}

void ValidateCustomer(const v1::Customer& c, const std::string& prefix, status::ViolationList& v) {
  const auto f = [&](absl::string_view name) { return absl::StrCat(prefix, ".", name); };
  if (absl::StripAsciiWhitespace(c.legal_name()).empty()) {
    v.Add(f("legal_name"), "is required");
  } else {
    CheckText(c.legal_name(), kMaxNameLength, f("legal_name"), v);
  }
  if (!c.external_ref().empty() && !IsValidExternalRef(c.external_ref())) {
    v.Add(f("external_ref"), "must be 1-64 characters of A-Z, a-z, 0-9, '.', '_', '-', '/'");
  }
  CheckText(c.short_name(), kMaxShortTextLength, f("short_name"), v);
  if (static_cast<size_t>(c.aliases_size()) > kMaxAliases) {
    v.Add(f("aliases"), absl::StrCat("at most ", kMaxAliases, " aliases"));
  }
  for (int i = 0; i < c.aliases_size(); ++i) {
    CheckText(c.aliases(i), kMaxNameLength, absl::StrCat(f("aliases"), "[", i, "]"), v);
  }
  if (!v1::Nature_IsValid(c.nature())) v.Add(f("nature"), "is not a known value");
  if (!v1::LifecycleStage_IsValid(c.lifecycle_stage())) {
    v.Add(f("lifecycle_stage"), "is not a known value");
  }
  CheckText(c.business_mode(), kMaxShortTextLength, f("business_mode"), v);
  CheckText(c.industry(), kMaxShortTextLength, f("industry"), v);
  CheckText(c.region().province(), kMaxShortTextLength, f("region.province"), v);
  CheckText(c.region().city(), kMaxShortTextLength, f("region.city"), v);
  CheckText(c.owner(), kMaxShortTextLength, f("owner"), v);
  CheckText(c.potential_notes(), kMaxNotesLength, f("potential_notes"), v);
  if (static_cast<size_t>(c.tags_size()) > kMaxTags) {
    v.Add(f("tags"), absl::StrCat("at most ", kMaxTags, " tags"));
  }
  for (int i = 0; i < c.tags_size(); ++i) {
    const std::string field = absl::StrCat(f("tags"), "[", i, "]");
    if (c.tags(i).empty()) {
      v.Add(field, "must not be empty");
    } else {
      CheckText(c.tags(i), kMaxTagLength, field, v);
    }
  }
  CheckDate(c.first_transaction_date(), f("first_transaction_date"), c.has_first_transaction_date(),
            v);

  const v1::Registration& r = c.registration();
  const std::string reg = f("registration");
  if (!r.unified_credit_code().empty() && !IsValidUnifiedCreditCode(r.unified_credit_code())) {
    v.Add(reg + ".unified_credit_code",
          "must be 18 characters of 0-9 and A-Y (no I, O, S, V, Z) with a valid check character");
  }
  if (!r.email().empty() && !IsValidEmail(r.email())) {
    v.Add(reg + ".email", "is not a valid e-mail address");
  }
  if (!r.phone().empty() && !IsValidPhone(r.phone())) {
    v.Add(reg + ".phone", "is not a valid phone number");
  }
  CheckText(r.tax_id(), kMaxShortTextLength, reg + ".tax_id", v);
  CheckText(r.legal_representative(), kMaxShortTextLength, reg + ".legal_representative", v);
  CheckText(r.bank_name(), kMaxShortTextLength, reg + ".bank_name", v);
  CheckText(r.bank_account(), kMaxShortTextLength, reg + ".bank_account", v);
  CheckText(r.address(), kMaxNameLength, reg + ".address", v);
  CheckText(r.website(), kMaxNameLength, reg + ".website", v);
  CheckText(r.ownership_form(), kMaxShortTextLength, reg + ".ownership_form", v);
  if (r.employees() < 0) v.Add(reg + ".employees", "must not be negative");
  CheckMoney(r.registered_capital(), reg + ".registered_capital", r.has_registered_capital(), v);
  CheckMoney(r.annual_revenue(), reg + ".annual_revenue", r.has_annual_revenue(), v);
  CheckMoney(r.fixed_assets(), reg + ".fixed_assets", r.has_fixed_assets(), v);
  CheckMoney(r.working_capital(), reg + ".working_capital", r.has_working_capital(), v);
  CheckDate(r.established_date(), reg + ".established_date", r.has_established_date(), v);
}

void ValidateContact(const v1::Contact& c, const std::string& prefix, status::ViolationList& v) {
  const auto f = [&](absl::string_view name) { return absl::StrCat(prefix, ".", name); };
  if (absl::StripAsciiWhitespace(c.name()).empty()) {
    v.Add(f("name"), "is required");
  } else {
    CheckText(c.name(), kMaxShortTextLength, f("name"), v);
  }
  CheckText(c.title(), kMaxShortTextLength, f("title"), v);
  if (!v1::DecisionRole_IsValid(c.role())) v.Add(f("role"), "is not a known value");
  if (!c.phone().empty() && !IsValidPhone(c.phone()))
    v.Add(f("phone"), "is not a valid phone number");
  if (!c.email().empty() && !IsValidEmail(c.email())) {
    v.Add(f("email"), "is not a valid e-mail address");
  }
  CheckText(c.preferences(), kMaxNameLength, f("preferences"), v);
  CheckDate(c.birthday(), f("birthday"), c.has_birthday(), v);
}

}  // namespace tierwise::profile
