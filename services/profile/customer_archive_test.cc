#include "services/profile/customer_archive.h"

#include "gtest/gtest.h"

namespace tierwise::profile {
namespace {

v1::Customer Sample(v1::Nature nature) {
  v1::Customer c;
  c.set_legal_name("青岛海纳电子有限公司");
  c.set_nature(nature);
  auto* r = c.mutable_registration();
  r->set_unified_credit_code("91350100M000100Y43");
  r->set_tax_id("91350100M000100Y43");
  r->set_legal_representative("王海");
  r->set_bank_name("工商银行");
  r->set_bank_account("6222020200112233445");
  r->set_phone("0532-88886666");
  r->set_email("info@haina.com.cn");
  r->set_address("青岛市崂山区");
  r->mutable_annual_revenue()->set_minor_units(100);
  r->mutable_registered_capital()->set_minor_units(500);
  auto* contact = c.add_contacts();
  contact->set_name("李娜");
  contact->set_title("采购经理");
  contact->set_phone("13800138000");
  contact->set_email("li.na@haina.com.cn");
  contact->mutable_birthday()->set_year(1985);
  return c;
}

TEST(MaskToBasicViewTest, RemovesSensitiveFieldsOfACompany) {
  v1::Customer c = Sample(v1::NATURE_ENTERPRISE);
  MaskToBasicView(c);
  const auto& r = c.registration();
  EXPECT_EQ(r.tax_id(), "");
  EXPECT_EQ(r.legal_representative(), "");
  EXPECT_EQ(r.bank_name(), "");
  EXPECT_EQ(r.bank_account(), "");
  EXPECT_FALSE(r.has_annual_revenue());
  // Public registry data of a company stays.
  EXPECT_EQ(r.unified_credit_code(), "91350100M000100Y43");
  EXPECT_EQ(r.phone(), "0532-88886666");
  EXPECT_TRUE(r.has_registered_capital());
  ASSERT_EQ(c.contacts_size(), 1);
  EXPECT_EQ(c.contacts(0).name(), "李娜");
  EXPECT_EQ(c.contacts(0).title(), "采购经理");
  EXPECT_EQ(c.contacts(0).phone(), "");
  EXPECT_EQ(c.contacts(0).email(), "");
  EXPECT_FALSE(c.contacts(0).has_birthday());
}

TEST(MaskToBasicViewTest, IndividualsLoseTheirRegistrationContactData) {
  v1::Customer c = Sample(v1::NATURE_INDIVIDUAL);
  MaskToBasicView(c);
  EXPECT_EQ(c.registration().unified_credit_code(), "");
  EXPECT_EQ(c.registration().phone(), "");
  EXPECT_EQ(c.registration().email(), "");
  EXPECT_EQ(c.registration().address(), "");
}

TEST(CustomerChangedStreamTest, UsesTheDeploymentPrefix) {
  EXPECT_EQ(CustomerChangedStream("tierwise"), "tierwise:profile.customer_changed");
}

}  // namespace
}  // namespace tierwise::profile
