#include "services/cli/demo_interactions.h"

#include <algorithm>
#include <array>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "absl/time/civil_time.h"
#include "services/cli/demo_random.h"

namespace tierwise::demo {
namespace {

namespace v1 = ::tierwise::interaction::v1;
namespace pb = ::tierwise::profile::v1;

// Keep these draws apart from the customer and ledger generators' for the same seed.
constexpr uint64_t kInteractionSalt = 0x494E544552414331ULL;
constexpr uint64_t kTierGuessSalt = 0x5449455247554553ULL;

// What a record is about; decides the channel and the wording.
enum class Kind {
  kRegular,        // the tier policy's regular contact
  kExecutive,      // A: the quarterly executive contact
  kExtra,          // an ad-hoc call or message
  kSurvey,         // B: the half-yearly satisfaction survey
  kExhibition,     // met at a trade fair
  kCustomerVisit,  // the customer came to us
  kComplaint,      // the customer complained (that day's record)
};

struct Draft {
  absl::CivilDay day;
  Kind kind;
};

constexpr std::array<absl::string_view, 10> kVisitSummaries = {
    "上门拜访，了解下季度采购计划和预算安排",       "现场查看设备运行情况，收集一线使用反馈",
    "拜访采购部，沟通年度框架协议续签事宜",         "陪同技术工程师上门，解决安装调试中的问题",
    "参观客户生产车间，了解扩产计划对备件的需求",   "上门对账，沟通本季度回款计划",
    "介绍新产品线，客户安排技术部门评估",           "走访客户仓库，核对库存与补货周期",
    "拜访客户新任采购经理，介绍合作历史和服务团队", "上门培训客户操作人员，讲解日常保养要点",
};

constexpr std::array<absl::string_view, 8> kPhoneSummaries = {
    "电话回访，确认上批货物到货及使用情况", "电话沟通报价，客户希望批量采购再给些优惠",
    "月度电话联系，了解近期订单需求",       "电话跟进付款进度，对方财务答复本周安排",
    "电话确认交期，客户要求提前一周发货",   "电话沟通售后问题，已安排工程师跟进",
    "电话通知价格调整，客户表示理解",       "电话了解客户今年的项目进展和采购节奏",
};

constexpr std::array<absl::string_view, 6> kMailSummaries = {
    "寄送新版产品目录和价格表", "发送节日问候及促销活动短信", "寄送月度对账单",
    "邮寄样品及技术资料",       "寄送季度新品通讯",           "短信提醒客户参加新品发布会",
};

constexpr std::array<absl::string_view, 6> kEmailSummaries = {
    "微信沟通订单细节，确认规格型号", "邮件发送报价单及合同草稿", "邮件答复技术咨询，附产品参数表",
    "微信群通知本月交货安排",         "邮件发送季度合作回顾报告", "企业微信沟通样品测试结果",
};

constexpr std::array<absl::string_view, 4> kExecutiveSummaries = {
    "公司总经理拜访客户董事长，商谈战略合作",
    "高层会晤，回顾本年度合作并讨论明年目标",
    "邀请客户总经理来公司参观工厂，洽谈长期供货",
    "季度高层沟通，确认重点项目的资源投入",
};

constexpr std::array<absl::string_view, 3> kSurveySummaries = {
    "半年度满意度调查：发送问卷，客户已填写反馈",
    "半年度客户满意度回访，逐项听取意见",
    "发送服务满意度问卷，客户对交付及时性评价较好",
};

constexpr std::array<absl::string_view, 3> kExhibitionSummaries = {
    "行业展会上接待客户，演示新款设备",
    "展会期间与客户交流，了解行业动态和竞品情况",
    "在展台与客户技术负责人洽谈新项目需求",
};

constexpr std::array<absl::string_view, 3> kCustomerVisitSummaries = {
    "客户来公司参观生产线，洽谈定制需求",
    "客户技术部来访，联合测试样机",
    "客户采购团队来访，商谈年度价格",
};

constexpr std::array<absl::string_view, 8> kConclusions = {
    "客户满意，保持现有合作",       "需跟进报价，下周回复",       "客户对交期有意见，需协调生产",
    "暂无新需求，按计划定期回访",   "客户同意续签年度协议",       "需安排技术支持上门",
    "客户反馈良好，可争取扩大份额", "资料已送达，待客户内部评估",
};

constexpr std::array<absl::string_view, 5> kIntentConclusions = {
    "客户有明确采购意向，准备报价",   "客户计划下月下单，需提前备货",
    "客户拟追加备件订单，待确认数量", "客户有意扩大合作范围，安排方案交流",
    "客户询价新产品线，尽快提供方案",
};

constexpr std::array<absl::string_view, 6> kSpecialItems = {
    "客户要求变更发票抬头",           "对方采购负责人即将调岗，需尽快对接新人",
    "客户对价格敏感，竞争对手在接触", "客户要求随货提供质检报告",
    "注意：客户月底集中付款",         "客户希望安排节前送货",
};

struct ComplaintText {
  absl::string_view subject;
  absl::string_view description;
  absl::string_view response;
  absl::string_view resolution;
};

constexpr std::array<ComplaintText, 5> kComplaints = {{
    {"到货延迟", "订单交期比约定晚了一周，影响客户的生产安排",
     "已致电客户致歉，协调仓库优先发货并每日通报物流", "已加急发货并补偿运费，客户确认收货"},
    {"产品质量问题", "一批配件尺寸偏差，客户要求退换", "已安排质检人员核实，承诺三天内给出处理方案",
     "已补发合格配件并回收不良品，客户确认满意"},
    {"发票错误", "发票金额与合同不符，客户财务无法入账", "已核对合同与开票记录，财务正在重开",
     "已重开发票并快递寄出，客户已入账"},
    {"售后响应慢", "设备故障报修两天无人上门", "已致歉并安排工程师明天上门",
     "工程师上门修复故障，客户确认设备运行正常"},
    {"包装破损", "到货外包装破损，部分货物受损", "已收集照片，与物流公司协商理赔",
     "已补发受损货物并改进包装，客户认可"},
}};

google::protobuf::Timestamp ToTimestamp(absl::Time time) {
  google::protobuf::Timestamp timestamp;
  timestamp.set_seconds(absl::ToUnixSeconds(time));
  return timestamp;
}

tierwise::type::v1::Date ToDate(absl::CivilDay day) {
  tierwise::type::v1::Date date;
  date.set_year(static_cast<int32_t>(day.year()));
  date.set_month(day.month());
  date.set_day(day.day());
  return date;
}

// K counts as A, D and unknown tiers as C.
char PolicyTier(const std::string& tier) {
  const std::string upper = absl::AsciiStrToUpper(tier);
  if (upper == "K" || upper == "A") return 'A';
  if (upper == "B") return 'B';
  return 'C';
}

// The channel of a record: the policy's own most of the time, some mix otherwise.
v1::Channel ChannelFor(Kind kind, char tier, Random& random) {
  switch (kind) {
    case Kind::kRegular:
      if (tier == 'A') {
        return std::array<v1::Channel, 4>{v1::CHANNEL_ON_SITE_VISIT, v1::CHANNEL_PHONE,
                                          v1::CHANNEL_CUSTOMER_VISIT,
                                          v1::CHANNEL_EMAIL_IM}[random.Weighted({75, 12, 8, 5})];
      }
      if (tier == 'B') {
        return std::array<v1::Channel, 3>{v1::CHANNEL_PHONE, v1::CHANNEL_EMAIL_IM,
                                          v1::CHANNEL_ON_SITE_VISIT}[random.Weighted({75, 15, 10})];
      }
      return std::array<v1::Channel, 3>{v1::CHANNEL_MAIL, v1::CHANNEL_EMAIL_IM,
                                        v1::CHANNEL_PHONE}[random.Weighted({70, 20, 10})];
    case Kind::kExecutive:
      return random.Percent(70) ? v1::CHANNEL_ON_SITE_VISIT : v1::CHANNEL_CUSTOMER_VISIT;
    case Kind::kExtra:
      return random.Percent(55) ? v1::CHANNEL_PHONE : v1::CHANNEL_EMAIL_IM;
    case Kind::kSurvey:
      return random.Percent(70) ? v1::CHANNEL_EMAIL_IM : v1::CHANNEL_PHONE;
    case Kind::kExhibition:
      return v1::CHANNEL_EXHIBITION;
    case Kind::kCustomerVisit:
      return v1::CHANNEL_CUSTOMER_VISIT;
    case Kind::kComplaint:
      return v1::CHANNEL_PHONE;
  }
  return v1::CHANNEL_OTHER;
}

absl::string_view SummaryFor(Kind kind, v1::Channel channel, Random& random) {
  switch (kind) {
    case Kind::kExecutive:
      return random.Pick(kExecutiveSummaries);
    case Kind::kSurvey:
      return random.Pick(kSurveySummaries);
    default:
      break;
  }
  switch (channel) {
    case v1::CHANNEL_ON_SITE_VISIT:
      return random.Pick(kVisitSummaries);
    case v1::CHANNEL_PHONE:
      return random.Pick(kPhoneSummaries);
    case v1::CHANNEL_MAIL:
      return random.Pick(kMailSummaries);
    case v1::CHANNEL_EMAIL_IM:
      return random.Pick(kEmailSummaries);
    case v1::CHANNEL_EXHIBITION:
      return random.Pick(kExhibitionSummaries);
    case v1::CHANNEL_CUSTOMER_VISIT:
      return random.Pick(kCustomerVisitSummaries);
    default:
      return random.Pick(kPhoneSummaries);
  }
}

// Days from `first` to `last` (inclusive) at `interval` days, each step jittered by up to
// `jitter` days, starting somewhere in the first interval.
void Cadence(absl::CivilDay first, absl::CivilDay last, int interval, int jitter, Kind kind,
             Random& random, std::vector<Draft>* drafts) {
  if (last < first) return;
  absl::CivilDay day = first + random.Between(0, interval - 1);
  while (day <= last) {
    drafts->push_back({day, kind});
    day += interval + random.Between(-jitter, jitter);
  }
}

absl::CivilDay RandomDay(absl::CivilDay first, absl::CivilDay last, Random& random) {
  if (last <= first) return first;
  return first + random.Between(0, static_cast<int>(last - first));
}

}  // namespace

int DemoCustomerIndex(const std::string& external_ref) {
  absl::string_view digits = external_ref;
  if (!absl::ConsumePrefix(&digits, "ERP-C") || digits.size() != 5) return 0;
  for (char c : digits) {
    if (!absl::ascii_isdigit(c)) return 0;
  }
  int index = 0;
  return absl::SimpleAtoi(digits, &index) ? index : 0;
}

std::string GuessDemoTier(uint64_t seed, const pb::Customer& customer, int index) {
  auto has_tag = [&](absl::string_view tag) {
    return std::find(customer.tags().begin(), customer.tags().end(), tag) != customer.tags().end();
  };
  Random random(MixSeed(seed ^ kTierGuessSalt, static_cast<uint64_t>(index)));
  const size_t draw = random.Weighted({3, 17, 80});
  const bool key_account_a = random.Percent(50);
  if (customer.lifecycle_stage() == pb::LIFECYCLE_STAGE_PROSPECT) return "C";
  if (has_tag("key-account")) return key_account_a ? "A" : "B";
  if (has_tag("strategic")) return "B";
  return std::string(1, "ABC"[draw]);
}

CustomerInteractionPlan PlanCustomerInteractions(const DemoInteractionOptions& options,
                                                 const InteractionCustomer& customer) {
  Random random(MixSeed(options.seed ^ kInteractionSalt, static_cast<uint64_t>(customer.index)));
  const absl::TimeZone utc = absl::UTCTimeZone();
  const absl::CivilDay today = absl::ToCivilDay(options.now, utc);
  // Records fall on the days before today, so that every contact lies in the past.
  const absl::CivilDay last = today - 1;
  const absl::CivilDay first = today - std::max(options.days, 1);
  const char tier = PolicyTier(customer.tier);

  // Draw the shape first, so that the fields never shift each other's draws.
  const bool lapsed = random.Percent(12);
  const int lapse_days = random.Between(35, 75);
  const int regular_interval = random.Between(26, 31);
  const int extras = tier == 'A'   ? random.Between(2, 4)
                     : tier == 'B' ? random.Between(1, 3)
                                   : random.Between(0, 1);
  const bool exhibition = random.Percent(tier == 'C' ? 10 : 30);
  const bool customer_visit = random.Percent(tier == 'A' ? 50 : 15);
  const int prospect_days = random.Between(60, 200);
  const int former_days = random.Between(90, 240);
  const int complaint_minutes_ago = random.Between(120, 10 * 24 * 60);
  const ComplaintText& complaint_text = random.Pick(kComplaints);
  const bool agreed_last = random.Percent(50);
  const int agreed_soon = random.Between(1, 21);
  // Every 33rd customer (3 %) complained, whatever the draws: the demo always has a few, and
  // their steps take turns (open, responded, resolved).
  const uint64_t slot = static_cast<uint64_t>(customer.index) + options.seed;
  const bool complains = slot % 33 == 0;
  const size_t complaint_step = (slot / 33) % 3;

  std::vector<Draft> drafts;
  absl::CivilDay regular_last = lapsed ? today - lapse_days : last;
  switch (customer.lifecycle) {
    case pb::LIFECYCLE_STAGE_PROSPECT: {
      // Courted since a few months: calls and visits every few weeks.
      Cadence(today - prospect_days, regular_last, 25, 5, Kind::kExtra, random, &drafts);
      if (customer_visit)
        drafts.push_back({RandomDay(today - prospect_days, last, random), Kind::kCustomerVisit});
      break;
    }
    case pb::LIFECYCLE_STAGE_DORMANT:
      Cadence(first, regular_last, 75, 15, Kind::kRegular, random, &drafts);
      break;
    case pb::LIFECYCLE_STAGE_FORMER:
      // Contact stopped when the customer left.
      Cadence(first, first + former_days, regular_interval, 4, Kind::kRegular, random, &drafts);
      break;
    default: {
      Cadence(first, regular_last, regular_interval, 4, Kind::kRegular, random, &drafts);
      if (tier == 'A') Cadence(first, last, 91, 7, Kind::kExecutive, random, &drafts);
      if (tier == 'B') Cadence(first, last, 182, 10, Kind::kSurvey, random, &drafts);
      for (int i = 0; i < extras; ++i) {
        drafts.push_back({RandomDay(first, last, random), Kind::kExtra});
      }
      if (exhibition) drafts.push_back({RandomDay(first, last, random), Kind::kExhibition});
      if (customer_visit && tier != 'C') {
        drafts.push_back({RandomDay(first, last, random), Kind::kCustomerVisit});
      }
      break;
    }
  }

  CustomerInteractionPlan plan;
  const std::string request_prefix =
      absl::StrFormat("demo-%d-%s-%04d%02d%02d-", options.seed, customer.external_ref, today.year(),
                      today.month(), today.day());
  const bool may_complain = customer.lifecycle == pb::LIFECYCLE_STAGE_ACTIVE ||
                            customer.lifecycle == pb::LIFECYCLE_STAGE_DORMANT ||
                            customer.lifecycle == pb::LIFECYCLE_STAGE_UNSPECIFIED;
  absl::Time complaint_received;
  if (complains && may_complain) {
    complaint_received = options.now - absl::Minutes(complaint_minutes_ago);
    ComplaintPlan complaint;
    complaint.open.set_request_id(absl::StrCat(request_prefix, "complaint"));
    v1::Complaint* c = complaint.open.mutable_complaint();
    c->set_customer_id(customer.id);
    c->set_subject(std::string(complaint_text.subject));
    c->set_description(std::string(complaint_text.description));
    *c->mutable_received_at() = ToTimestamp(complaint_received);
    // A complaint of the last 20 hours is within its response SLA: responded or waiting.
    const bool fresh = complaint_minutes_ago < 20 * 60;
    complaint.step =
        fresh ? (complaint_step == 0 ? ComplaintStep::kOpen : ComplaintStep::kRespond)
              : std::array<ComplaintStep, 3>{ComplaintStep::kOpen, ComplaintStep::kRespond,
                                             ComplaintStep::kResolve}[complaint_step];
    complaint.response = std::string(complaint_text.response);
    complaint.resolution = std::string(complaint_text.resolution);
    plan.complaint = std::move(complaint);
  }

  // Each draft becomes a record; the complaint's record goes in at its own time.
  struct Timed {
    absl::Time occurred;
    Kind kind;
  };
  std::vector<Timed> timed;
  for (const Draft& draft : drafts) {
    // Business hours in China (UTC+8): 09:00 to 17:59 is 01:00 to 09:59 UTC.
    const absl::CivilSecond at(draft.day.year(), draft.day.month(), draft.day.day(),
                               random.Between(1, 9), random.Between(0, 59), 0);
    timed.push_back({absl::FromCivil(at, utc), draft.kind});
  }
  if (plan.complaint.has_value()) timed.push_back({complaint_received, Kind::kComplaint});
  std::stable_sort(timed.begin(), timed.end(),
                   [](const Timed& a, const Timed& b) { return a.occurred < b.occurred; });

  const int intent_percent = customer.lifecycle == pb::LIFECYCLE_STAGE_PROSPECT  ? 40
                             : customer.lifecycle == pb::LIFECYCLE_STAGE_DORMANT ? 5
                             : tier == 'A'                                       ? 35
                             : tier == 'B'                                       ? 25
                                                                                 : 10;
  for (size_t i = 0; i < timed.size(); ++i) {
    const Timed& t = timed[i];
    v1::LogInteractionRequest request;
    request.set_request_id(absl::StrCat(request_prefix, "i", i + 1));
    v1::Interaction* record = request.mutable_interaction();
    record->set_customer_id(customer.id);
    record->set_owner(customer.owner);
    *record->mutable_occurred_at() = ToTimestamp(t.occurred);
    const v1::Channel channel = ChannelFor(t.kind, tier, random);
    record->set_channel(channel);

    // Whom: the decision maker (listed first) for executive contacts, complaints and half the
    // time otherwise; someone else from the decision chain the rest.
    const bool decision_maker = t.kind == Kind::kExecutive || random.Percent(50);
    const size_t other =
        customer.contacts.size() > 1 ? 1 + random.Below(customer.contacts.size() - 1) : 0;
    if (!customer.contacts.empty()) {
      const pb::Contact& contact = customer.contacts[decision_maker ? 0 : other];
      record->set_contact_name(contact.name());
      if (v1::DecisionRole_IsValid(contact.role())) {
        record->set_contact_role(static_cast<v1::DecisionRole>(contact.role()));
      }
    }

    const bool intent = t.kind != Kind::kComplaint && random.Percent(intent_percent);
    const int satisfaction_draw = static_cast<int>(random.Weighted({1, 4, 20, 42, 33})) + 1;
    const bool asked = channel != v1::CHANNEL_MAIL || random.Percent(40);
    const bool special = random.Percent(15);
    const absl::string_view special_text = random.Pick(kSpecialItems);
    const bool agreed = random.Percent(20);
    const int agreed_in = random.Between(7, 30);
    const bool late = random.Percent(5);
    const int recorded_minutes = late ? random.Between(25 * 60, 120 * 60) : random.Between(30, 480);
    const absl::string_view summary = SummaryFor(t.kind, channel, random);
    const absl::string_view conclusion =
        intent ? random.Pick(kIntentConclusions) : random.Pick(kConclusions);

    if (t.kind == Kind::kComplaint) {
      const ComplaintPlan& complaint = *plan.complaint;
      record->set_summary(absl::StrCat("客户来电投诉：", complaint.open.complaint().subject(), "。",
                                       complaint.open.complaint().description()));
      record->set_conclusion("已登记投诉，按流程24小时内答复、48小时内解决");
      record->set_special_items("需重点关注，直至投诉关闭");
      record->set_satisfaction(random.Between(1, 2));
    } else {
      record->set_summary(std::string(summary));
      record->set_conclusion(std::string(conclusion));
      if (special) record->set_special_items(std::string(special_text));
      if (asked) record->set_satisfaction(satisfaction_draw);
    }
    record->set_purchase_intent(intent);
    record->set_executive_contact(t.kind == Kind::kExecutive);
    const absl::CivilDay day = absl::ToCivilDay(t.occurred, utc);
    const bool is_last = i + 1 == timed.size();
    if (t.kind == Kind::kComplaint) {
      *record->mutable_next_follow_up_date() = ToDate(day + 1);
    } else if (is_last && customer.lifecycle == pb::LIFECYCLE_STAGE_FORMER) {
      // The customer has left: nothing agreed.
    } else if (is_last && agreed_last && !lapsed) {
      // The latest contact agreed on the next one, in the coming weeks.
      *record->mutable_next_follow_up_date() = ToDate(today + agreed_soon);
    } else if (agreed) {
      *record->mutable_next_follow_up_date() = ToDate(day + agreed_in);
    }
    // The admin back-fill: a few hours after the contact, sometimes days; never after now.
    const absl::Time recorded = std::min(t.occurred + absl::Minutes(recorded_minutes), options.now);
    *record->mutable_recorded_at() = ToTimestamp(std::max(recorded, t.occurred));
    plan.interactions.push_back(std::move(request));
  }
  return plan;
}

}  // namespace tierwise::demo
