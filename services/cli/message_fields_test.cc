#include "services/cli/message_fields.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tierwise/profile/v1/profile.pb.h"

namespace tierwise::cli {
namespace {

namespace pb = ::tierwise::profile::v1;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(ParseEnumValueTest, ShortAndFullNames) {
  const auto* nature = pb::Nature_descriptor();
  EXPECT_EQ(*ParseEnumValue(nature, "enterprise"), pb::NATURE_ENTERPRISE);
  EXPECT_EQ(*ParseEnumValue(nature, "special_partner"), pb::NATURE_SPECIAL_PARTNER);
  EXPECT_EQ(*ParseEnumValue(nature, "special-partner"), pb::NATURE_SPECIAL_PARTNER);
  EXPECT_EQ(*ParseEnumValue(nature, "NATURE_GOVERNMENT"), pb::NATURE_GOVERNMENT);
  EXPECT_EQ(*ParseEnumValue(pb::LifecycleStage_descriptor(), "dormant"),
            pb::LIFECYCLE_STAGE_DORMANT);
  absl::StatusOr<int> bad = ParseEnumValue(nature, "company");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(),
              HasSubstr("government|special_partner|enterprise|individual|trading_partner"));
  EXPECT_FALSE(ParseEnumValue(nature, "unspecified").ok());
  EXPECT_FALSE(ParseEnumValue(nature, "").ok());
}

TEST(SetFieldFromTextTest, SetsTheSupportedKinds) {
  pb::Customer customer;
  ASSERT_TRUE(SetFieldFromText(&customer, "legal_name", "苏州恒达精密机械有限公司").ok());
  ASSERT_TRUE(SetFieldFromText(&customer, "nature", "trading_partner").ok());
  ASSERT_TRUE(SetFieldFromText(&customer, "lifecycle_stage", "former").ok());
  ASSERT_TRUE(SetFieldFromText(&customer, "region.province", "江苏").ok());
  ASSERT_TRUE(SetFieldFromText(&customer, "region.city", "苏州").ok());
  ASSERT_TRUE(SetFieldFromText(&customer, "tags", "key-account, export,").ok());
  ASSERT_TRUE(SetFieldFromText(&customer, "data_consent", "true").ok());
  ASSERT_TRUE(SetFieldFromText(&customer, "registration.employees", "120").ok());
  ASSERT_TRUE(
      SetFieldFromText(&customer, "registration.registered_capital.minor_units", "500000000").ok());
  ASSERT_TRUE(SetFieldFromText(&customer, "first_transaction_date", "2024-05-01").ok());

  EXPECT_EQ(customer.legal_name(), "苏州恒达精密机械有限公司");
  EXPECT_EQ(customer.nature(), pb::NATURE_TRADING_PARTNER);
  EXPECT_EQ(customer.lifecycle_stage(), pb::LIFECYCLE_STAGE_FORMER);
  EXPECT_EQ(customer.region().province(), "江苏");
  EXPECT_EQ(customer.region().city(), "苏州");
  EXPECT_THAT(customer.tags(), ElementsAre("key-account", "export"));
  EXPECT_TRUE(customer.data_consent());
  EXPECT_EQ(customer.registration().employees(), 120);
  EXPECT_EQ(customer.registration().registered_capital().minor_units(), 500000000);
  EXPECT_EQ(customer.first_transaction_date().year(), 2024);
  EXPECT_EQ(customer.first_transaction_date().month(), 5);
  EXPECT_EQ(customer.first_transaction_date().day(), 1);
}

TEST(SetFieldFromTextTest, EmptyValueClears) {
  pb::Customer customer;
  customer.set_owner("rep.zhang");
  customer.add_tags("x");
  customer.set_nature(pb::NATURE_GOVERNMENT);
  ASSERT_TRUE(SetFieldFromText(&customer, "owner", "").ok());
  ASSERT_TRUE(SetFieldFromText(&customer, "tags", "").ok());
  ASSERT_TRUE(SetFieldFromText(&customer, "nature", "").ok());
  EXPECT_EQ(customer.owner(), "");
  EXPECT_TRUE(customer.tags().empty());
  EXPECT_EQ(customer.nature(), pb::NATURE_UNSPECIFIED);
}

TEST(SetFieldFromTextTest, ErrorsNameThePath) {
  pb::Customer customer;
  EXPECT_THAT(SetFieldFromText(&customer, "no_such", "x").message(),
              HasSubstr("unknown field 'no_such'"));
  EXPECT_THAT(SetFieldFromText(&customer, "region.town", "x").message(),
              HasSubstr("unknown field 'town'"));
  EXPECT_THAT(SetFieldFromText(&customer, "legal_name.x", "x").message(),
              HasSubstr("has no subfields"));
  EXPECT_THAT(SetFieldFromText(&customer, "region", "x").message(), HasSubstr("region.province"));
  EXPECT_THAT(SetFieldFromText(&customer, "contacts", "x").message(),
              HasSubstr("list of messages"));
  EXPECT_THAT(SetFieldFromText(&customer, "registration.employees", "many").message(),
              HasSubstr("registration.employees: expected a number"));
  EXPECT_THAT(SetFieldFromText(&customer, "nature", "company").message(),
              HasSubstr("nature: unknown Nature 'company'"));
  EXPECT_THAT(SetFieldFromText(&customer, "first_transaction_date", "May 1").message(),
              HasSubstr("YYYY-MM-DD"));
}

}  // namespace
}  // namespace tierwise::cli
