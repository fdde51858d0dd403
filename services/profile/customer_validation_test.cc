#include "services/profile/customer_validation.h"

#include "gtest/gtest.h"

namespace tierwise::profile {
namespace {

std::vector<std::string> Fields(const status::ViolationList& v) {
  std::vector<std::string> out;
  for (const auto& item : v.items()) out.push_back(item.field);
  return out;
}

TEST(CreditCodeTest, AcceptsCodesWithTheRightCheckCharacter) {
  // Check characters computed by hand from GB 32100-2015's weights.
  EXPECT_TRUE(IsValidUnifiedCreditCode("91350100M000100Y43"));
  EXPECT_TRUE(IsValidUnifiedCreditCode("911100007109288314"));
}

TEST(CreditCodeTest, RejectsWrongLengthAlphabetOrCheck) {
  EXPECT_FALSE(IsValidUnifiedCreditCode("91350100M000100Y44"));  // check character off by one
  EXPECT_FALSE(IsValidUnifiedCreditCode("91350100M000100Y4"));   // 17 characters
  EXPECT_FALSE(IsValidUnifiedCreditCode("91350100I000100Y43"));  // I is not in the alphabet
  EXPECT_FALSE(IsValidUnifiedCreditCode("91350100m000100Y43"));  // lowercase
  EXPECT_FALSE(IsValidUnifiedCreditCode(""));
}

TEST(EmailTest, Examples) {
  EXPECT_TRUE(IsValidEmail("li.wei@hengda-machinery.com.cn"));
  EXPECT_TRUE(IsValidEmail("a+b@x.io"));
  EXPECT_FALSE(IsValidEmail("no-at-sign.com"));
  EXPECT_FALSE(IsValidEmail("two@@x.com"));
  EXPECT_FALSE(IsValidEmail("x@nodot"));
  EXPECT_FALSE(IsValidEmail("x@domain.c0m"));
  EXPECT_FALSE(IsValidEmail(".x@domain.com"));
  EXPECT_FALSE(IsValidEmail("x y@domain.com"));
  EXPECT_FALSE(IsValidEmail("x@-domain.com"));
}

TEST(PhoneTest, Examples) {
  EXPECT_TRUE(IsValidPhone("0512-68881234"));
  EXPECT_TRUE(IsValidPhone("+86 138 0013 8000"));
  EXPECT_TRUE(IsValidPhone("(021) 5555-0101"));
  EXPECT_FALSE(IsValidPhone("1234"));
  EXPECT_FALSE(IsValidPhone("138-0013-800O"));  // letter O
  EXPECT_FALSE(IsValidPhone("86+13800138000"));
  EXPECT_FALSE(IsValidPhone("123456789012345678901"));
}

TEST(ValidateCustomerTest, MinimalCustomerIsValid) {
  v1::Customer c;
  c.set_legal_name("苏州恒达精密机械有限公司");
  status::ViolationList v;
  ValidateCustomer(c, "customer", v);
  EXPECT_TRUE(v.empty()) << v.ToStatus();
}

TEST(ValidateCustomerTest, ReportsEveryProblemWithItsPath) {
  v1::Customer c;
  c.set_legal_name("   ");
  c.set_external_ref("has space");
  c.set_nature(static_cast<v1::Nature>(42));
  c.set_lifecycle_stage(static_cast<v1::LifecycleStage>(-1));
  c.add_tags("");
  c.mutable_registration()->set_email("nope");
  c.mutable_registration()->set_phone("abc");
  c.mutable_registration()->set_unified_credit_code("123");
  c.mutable_registration()->mutable_registered_capital()->set_minor_units(-5);
  c.mutable_registration()->mutable_registered_capital()->set_currency("rmb");
  c.mutable_registration()->mutable_established_date()->set_year(2023);
  c.mutable_registration()->mutable_established_date()->set_month(2);
  c.mutable_registration()->mutable_established_date()->set_day(29);
  status::ViolationList v;
  ValidateCustomer(c, "customer", v);
  const std::vector<std::string> expected = {
      "customer.legal_name",
      "customer.external_ref",
      "customer.nature",
      "customer.lifecycle_stage",
      "customer.tags[0]",
      "customer.registration.unified_credit_code",
      "customer.registration.email",
      "customer.registration.phone",
      "customer.registration.registered_capital.minor_units",
      "customer.registration.registered_capital.currency",
      "customer.registration.established_date",
  };
  EXPECT_EQ(Fields(v), expected);
}

TEST(ValidateCustomerTest, SizesAreBoundedInCharactersNotBytes) {
  v1::Customer c;
  std::string name;
  for (size_t i = 0; i < kMaxNameLength; ++i) name += "公";  // 3 bytes each
  c.set_legal_name(name);
  status::ViolationList ok;
  ValidateCustomer(c, "customer", ok);
  EXPECT_TRUE(ok.empty());
  c.set_legal_name(name + "司");
  for (size_t i = 0; i <= kMaxTags; ++i) c.add_tags("t");
  status::ViolationList v;
  ValidateCustomer(c, "customer", v);
  EXPECT_EQ(Fields(v), (std::vector<std::string>{"customer.legal_name", "customer.tags"}));
}

TEST(ValidateContactTest, NameRequiredAndChannelsChecked) {
  v1::Contact c;
  c.set_email("wang@@x.cn");
  c.set_phone("12");
  c.set_role(static_cast<v1::DecisionRole>(99));
  status::ViolationList v;
  ValidateContact(c, "contacts[2]", v);
  EXPECT_EQ(Fields(v), (std::vector<std::string>{"contacts[2].name", "contacts[2].role",
                                                 "contacts[2].phone", "contacts[2].email"}));
}

}  // namespace
}  // namespace tierwise::profile
