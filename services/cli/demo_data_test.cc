#include "services/cli/demo_data.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <set>
#include <string>

#include "absl/strings/string_view.h"

namespace tierwise::demo {
namespace {

namespace pb = ::tierwise::profile::v1;

// An independent check of a unified social credit code (GB 32100-2015), written from the
// standard rather than from the generator.
bool IsValidCreditCode(absl::string_view code) {
  static constexpr absl::string_view kCharset = "0123456789ABCDEFGHJKLMNPQRTUWXY";
  static constexpr int kWeights[17] = {1,  3,  9,  27, 19, 26, 16, 17, 20,
                                       29, 25, 13, 8,  24, 10, 30, 28};
  if (code.size() != 18) return false;
  int sum = 0;
  for (int i = 0; i < 17; ++i) {
    size_t value = kCharset.find(code[i]);
    if (value == absl::string_view::npos) return false;
    sum += static_cast<int>(value) * kWeights[i];
  }
  size_t check = (31 - sum % 31) % 31;
  return code[17] == kCharset[check];
}

std::string Serialize(const std::vector<DemoCustomer>& customers) {
  std::string out;
  for (const DemoCustomer& customer : customers) {
    out += customer.customer.SerializeAsString();
    for (const pb::Contact& contact : customer.contacts) out += contact.SerializeAsString();
    out += '\n';
  }
  return out;
}

TEST(CreditCodeTest, VerifierAcceptsPublishedExampleAndRejectsTypos) {
  EXPECT_TRUE(IsValidCreditCode("91350100M000100Y43"));
  EXPECT_FALSE(IsValidCreditCode("91350100M000100Y44"));
  EXPECT_FALSE(IsValidCreditCode("91350100M000100Y4"));
  EXPECT_FALSE(IsValidCreditCode("91350100M000100I43"));  // I is not in the charset
  EXPECT_EQ(CreditCodeCheckChar("91350100M000100Y4"), '3');
  EXPECT_EQ(CreditCodeCheckChar("91350100M000100I4"), '\0');
  EXPECT_EQ(CreditCodeCheckChar("short"), '\0');
}

TEST(DemoDataTest, SameSeedGivesIdenticalCustomers) {
  EXPECT_EQ(Serialize(GenerateDemoCustomers(42, 200)), Serialize(GenerateDemoCustomers(42, 200)));
}

TEST(DemoDataTest, DifferentSeedGivesDifferentCustomers) {
  std::vector<DemoCustomer> a = GenerateDemoCustomers(42, 50);
  std::vector<DemoCustomer> b = GenerateDemoCustomers(43, 50);
  EXPECT_NE(Serialize(a), Serialize(b));
  int same_names = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].customer.legal_name() == b[i].customer.legal_name()) ++same_names;
  }
  EXPECT_LT(same_names, 5);
}

TEST(DemoDataTest, FewerCustomersAreAPrefixOfMore) {
  // So `demo load --count 20` and a later `--count 200` agree on the first 20.
  std::vector<DemoCustomer> few = GenerateDemoCustomers(7, 20);
  std::vector<DemoCustomer> many = GenerateDemoCustomers(7, 200);
  ASSERT_EQ(few.size(), 20u);
  EXPECT_EQ(Serialize(few), Serialize({many.begin(), many.begin() + 20}));
}

TEST(DemoDataTest, OutputIsStableAcrossPlatforms) {
  // Pins the generator's output: a change here changes every demo data set.
  std::vector<DemoCustomer> customers = GenerateDemoCustomers(42, 3);
  ASSERT_EQ(customers.size(), 3u);
  EXPECT_EQ(customers[0].customer.external_ref(), "ERP-C00001");
  EXPECT_EQ(customers[0].customer.legal_name(), "青岛德博建筑工程有限公司");
  EXPECT_EQ(customers[2].customer.registration().unified_credit_code(), "91510104771190359N");
}

TEST(DemoDataTest, EveryCustomerIsComplete) {
  std::vector<DemoCustomer> customers = GenerateDemoCustomers(42, 500);
  ASSERT_EQ(customers.size(), 500u);
  std::set<std::string> refs;
  std::set<std::string> names;
  std::set<std::string> codes;
  std::set<int> natures;
  std::set<int> stages;
  std::set<std::string> owners;
  int index = 0;
  for (const DemoCustomer& demo : customers) {
    ++index;
    const pb::Customer& customer = demo.customer;
    SCOPED_TRACE(customer.external_ref());
    char expected_ref[16];
    std::snprintf(expected_ref, sizeof(expected_ref), "ERP-C%05d", index);
    EXPECT_EQ(customer.external_ref(), expected_ref);
    EXPECT_TRUE(refs.insert(customer.external_ref()).second) << "duplicate external_ref";
    EXPECT_TRUE(names.insert(customer.legal_name()).second) << "duplicate legal name";
    EXPECT_FALSE(customer.short_name().empty());
    EXPECT_FALSE(customer.industry().empty());
    EXPECT_FALSE(customer.region().province().empty());
    EXPECT_FALSE(customer.region().city().empty());
    EXPECT_TRUE(customer.data_consent());
    EXPECT_TRUE(customer.id().empty());

    const pb::Registration& registration = customer.registration();
    EXPECT_TRUE(IsValidCreditCode(registration.unified_credit_code()))
        << registration.unified_credit_code();
    EXPECT_TRUE(codes.insert(registration.unified_credit_code()).second);
    EXPECT_EQ(registration.tax_id(), registration.unified_credit_code());
    EXPECT_NE(registration.email().find('@'), std::string::npos) << registration.email();
    EXPECT_FALSE(registration.legal_representative().empty());
    EXPECT_FALSE(registration.address().empty());
    EXPECT_GT(registration.employees(), 0);
    EXPECT_NE(registration.phone().find('-'), std::string::npos) << registration.phone();
    EXPECT_GT(registration.established_date().year(), 1990);

    bool prospect = customer.lifecycle_stage() == pb::LIFECYCLE_STAGE_PROSPECT;
    EXPECT_EQ(customer.has_first_transaction_date(), !prospect);
    if (customer.lifecycle_stage() == pb::LIFECYCLE_STAGE_ACTIVE) {
      EXPECT_GE(customer.first_transaction_date().year(), registration.established_date().year());
    }

    ASSERT_GE(demo.contacts.size(), 1u);
    EXPECT_LE(demo.contacts.size(), 3u);
    EXPECT_EQ(demo.contacts[0].role(), pb::DECISION_ROLE_DECISION_MAKER);
    EXPECT_TRUE(demo.contacts[0].key_man());
    for (const pb::Contact& contact : demo.contacts) {
      EXPECT_FALSE(contact.name().empty());
      EXPECT_FALSE(contact.title().empty());
      EXPECT_NE(contact.email().find('@'), std::string::npos) << contact.email();
      EXPECT_EQ(contact.phone().size(), 11u) << contact.phone();
      EXPECT_EQ(contact.phone().substr(0, 2), "13");
      EXPECT_TRUE(contact.id().empty());
    }
    natures.insert(customer.nature());
    stages.insert(customer.lifecycle_stage());
    owners.insert(customer.owner());
  }
  // The mix a demo needs: every nature and lifecycle stage, and all three owners.
  EXPECT_EQ(natures.size(), 5u);
  EXPECT_EQ(stages.size(), 4u);
  EXPECT_EQ(owners, (std::set<std::string>{"rep.zhang", "rep.chen", "manager.li"}));
}

}  // namespace
}  // namespace tierwise::demo
