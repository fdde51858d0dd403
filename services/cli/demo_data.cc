#include "services/cli/demo_data.h"

#include <algorithm>
#include <array>
#include <cstddef>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "services/cli/demo_random.h"

namespace tierwise::demo {
namespace {

namespace pb = ::tierwise::profile::v1;

constexpr absl::string_view kCreditCodeCharset = "0123456789ABCDEFGHJKLMNPQRTUWXY";
constexpr int kCreditCodeWeights[17] = {1,  3,  9,  27, 19, 26, 16, 17, 20,
                                        29, 25, 13, 8,  24, 10, 30, 28};

struct District {
  absl::string_view name;
  absl::string_view code;  // administrative division code (6 digits)
};

struct City {
  absl::string_view province;       // as stored in Region.province
  absl::string_view province_full;  // "江苏省"; "" for municipalities
  absl::string_view city;           // as stored in Region.city
  absl::string_view city_full;      // "苏州市"
  absl::string_view pinyin;
  absl::string_view area_code;
  int weight;
  std::array<District, 4> districts;
};

constexpr std::array<City, 14> kCities = {{
    {"江苏",
     "江苏省",
     "苏州",
     "苏州市",
     "suzhou",
     "0512",
     12,
     {{{"姑苏区", "320508"}, {"吴中区", "320506"}, {"相城区", "320507"}, {"虎丘区", "320505"}}}},
    {"江苏",
     "江苏省",
     "南京",
     "南京市",
     "nanjing",
     "025",
     6,
     {{{"玄武区", "320102"}, {"建邺区", "320105"}, {"浦口区", "320111"}, {"江宁区", "320115"}}}},
    {"江苏",
     "江苏省",
     "无锡",
     "无锡市",
     "wuxi",
     "0510",
     6,
     {{{"锡山区", "320205"}, {"滨湖区", "320211"}, {"梁溪区", "320213"}, {"新吴区", "320214"}}}},
    {"浙江",
     "浙江省",
     "杭州",
     "杭州市",
     "hangzhou",
     "0571",
     10,
     {{{"西湖区", "330106"}, {"滨江区", "330108"}, {"萧山区", "330109"}, {"余杭区", "330110"}}}},
    {"浙江",
     "浙江省",
     "宁波",
     "宁波市",
     "ningbo",
     "0574",
     7,
     {{{"海曙区", "330203"}, {"北仑区", "330206"}, {"镇海区", "330211"}, {"鄞州区", "330212"}}}},
    {"广东",
     "广东省",
     "深圳",
     "深圳市",
     "shenzhen",
     "0755",
     10,
     {{{"福田区", "440304"}, {"南山区", "440305"}, {"宝安区", "440306"}, {"龙岗区", "440307"}}}},
    {"广东",
     "广东省",
     "广州",
     "广州市",
     "guangzhou",
     "020",
     7,
     {{{"天河区", "440106"}, {"白云区", "440111"}, {"黄埔区", "440112"}, {"番禺区", "440113"}}}},
    {"广东",
     "广东省",
     "东莞",
     "东莞市",
     "dongguan",
     "0769",
     5,
     {{{"长安镇", "441900"}, {"虎门镇", "441900"}, {"塘厦镇", "441900"}, {"松山湖", "441900"}}}},
    {"上海",
     "",
     "上海",
     "上海市",
     "shanghai",
     "021",
     10,
     {{{"闵行区", "310112"}, {"嘉定区", "310114"}, {"浦东新区", "310115"}, {"松江区", "310117"}}}},
    {"北京",
     "",
     "北京",
     "北京市",
     "beijing",
     "010",
     6,
     {{{"朝阳区", "110105"}, {"丰台区", "110106"}, {"海淀区", "110108"}, {"大兴区", "110115"}}}},
    {"天津",
     "",
     "天津",
     "天津市",
     "tianjin",
     "022",
     3,
     {{{"河西区", "120103"}, {"南开区", "120104"}, {"西青区", "120111"}, {"滨海新区", "120116"}}}},
    {"山东",
     "山东省",
     "青岛",
     "青岛市",
     "qingdao",
     "0532",
     5,
     {{{"市南区", "370202"}, {"黄岛区", "370211"}, {"崂山区", "370212"}, {"城阳区", "370214"}}}},
    {"四川",
     "四川省",
     "成都",
     "成都市",
     "chengdu",
     "028",
     5,
     {{{"锦江区", "510104"}, {"武侯区", "510107"}, {"成华区", "510108"}, {"双流区", "510116"}}}},
    {"湖北",
     "湖北省",
     "武汉",
     "武汉市",
     "wuhan",
     "027",
     5,
     {{{"江汉区", "420103"}, {"洪山区", "420111"}, {"东西湖区", "420112"}, {"江夏区", "420115"}}}},
}};

struct Syllable {
  absl::string_view hanzi;
  absl::string_view pinyin;
};

constexpr std::array<Syllable, 40> kBrandSyllables = {{
    {"恒", "heng"}, {"达", "da"},   {"华", "hua"},   {"盛", "sheng"},  {"鑫", "xin"},
    {"泰", "tai"},  {"瑞", "rui"},  {"德", "de"},    {"昌", "chang"},  {"宏", "hong"},
    {"永", "yong"}, {"安", "an"},   {"金", "jin"},   {"嘉", "jia"},    {"源", "yuan"},
    {"丰", "feng"}, {"博", "bo"},   {"中", "zhong"}, {"海", "hai"},    {"天", "tian"},
    {"新", "xin"},  {"兴", "xing"}, {"利", "li"},    {"通", "tong"},   {"信", "xin"},
    {"力", "li"},   {"凯", "kai"},  {"宇", "yu"},    {"航", "hang"},   {"正", "zheng"},
    {"银", "yin"},  {"东", "dong"}, {"润", "run"},   {"和", "he"},     {"元", "yuan"},
    {"协", "xie"},  {"益", "yi"},   {"汇", "hui"},   {"创", "chuang"}, {"佳", "jia"},
}};

// Industry (业种) codes are stored in Customer.industry; the words go into legal names.
struct Industry {
  absl::string_view code;
  absl::string_view business_mode;
  absl::string_view short_word;  // for short names: "恒达机械"
  std::array<absl::string_view, 3> name_words;
  bool exporter;  // may carry the "export" tag
};

constexpr std::array<Industry, 8> kIndustries = {{
    {"machinery", "manufacturer", "机械", {"精密机械", "机械制造", "重工机械"}, true},
    {"electronics", "manufacturer", "电子", {"电子科技", "电子", "微电子"}, true},
    {"chemicals", "manufacturer", "化工", {"化工", "新材料", "精细化工"}, true},
    {"textiles", "manufacturer", "纺织", {"纺织", "服饰", "纺织品"}, true},
    {"food", "manufacturer", "食品", {"食品", "食品饮料", "农产品"}, false},
    {"construction", "contractor", "建设", {"建设工程", "建材", "建筑工程"}, false},
    {"logistics", "service", "物流", {"物流", "供应链管理", "国际货运代理"}, false},
    {"retail", "retailer", "商贸", {"商贸", "百货", "连锁商业"}, false},
}};

constexpr std::array<absl::string_view, 3> kTradingWords = {"进出口", "贸易", "国际贸易"};
constexpr std::array<absl::string_view, 2> kPartnerWords = {"设计研究院", "技术研究院"};

struct Department {
  absl::string_view name;
  absl::string_view short_name;
  absl::string_view mail_code;
  absl::string_view head_title;  // 局长 of a bureau, 主任 of a commission or centre
};

constexpr std::array<Department, 7> kDepartments = {{
    {"住房和城乡建设局", "住建局", "zjj", "局长"},
    {"交通运输局", "交通局", "jtj", "局长"},
    {"教育局", "教育局", "jyj", "局长"},
    {"卫生健康委员会", "卫健委", "wjw", "主任"},
    {"水务局", "水务局", "swj", "局长"},
    {"城市管理局", "城管局", "cgj", "局长"},
    {"公共资源交易中心", "交易中心", "ggzy", "主任"},
}};

constexpr std::array<absl::string_view, 4> kShopKinds = {"五金店", "建材经营部", "电器商行",
                                                         "日用品店"};

constexpr std::array<Syllable, 24> kSurnames = {{
    {"王", "wang"},  {"李", "li"},    {"张", "zhang"}, {"刘", "liu"},  {"陈", "chen"},
    {"杨", "yang"},  {"黄", "huang"}, {"赵", "zhao"},  {"吴", "wu"},   {"周", "zhou"},
    {"徐", "xu"},    {"孙", "sun"},   {"马", "ma"},    {"朱", "zhu"},  {"胡", "hu"},
    {"郭", "guo"},   {"何", "he"},    {"林", "lin"},   {"高", "gao"},  {"罗", "luo"},
    {"郑", "zheng"}, {"梁", "liang"}, {"谢", "xie"},   {"宋", "song"},
}};

constexpr std::array<Syllable, 35> kGivenNames = {{
    {"建国", "jianguo"},  {"伟", "wei"},       {"芳", "fang"},      {"娜", "na"},
    {"敏", "min"},        {"静", "jing"},      {"丽", "li"},        {"强", "qiang"},
    {"磊", "lei"},        {"军", "jun"},       {"洋", "yang"},      {"勇", "yong"},
    {"艳", "yan"},        {"杰", "jie"},       {"娟", "juan"},      {"涛", "tao"},
    {"明", "ming"},       {"超", "chao"},      {"秀英", "xiuying"}, {"霞", "xia"},
    {"平", "ping"},       {"刚", "gang"},      {"桂英", "guiying"}, {"志强", "zhiqiang"},
    {"晓东", "xiaodong"}, {"海燕", "haiyan"},  {"丹", "dan"},       {"鹏", "peng"},
    {"俊", "jun"},        {"文博", "wenbo"},   {"思远", "siyuan"},  {"佳怡", "jiayi"},
    {"建华", "jianhua"},  {"国平", "guoping"}, {"红梅", "hongmei"},
}};

constexpr std::array<absl::string_view, 10> kStreets = {"人民路", "中山路",  "建设大道", "工业大道",
                                                        "科技路", "创业路",  "长江路",   "星湖街",
                                                        "解放路", "高新大道"};

constexpr std::array<absl::string_view, 8> kBanks = {"中国工商银行", "中国建设银行", "中国银行",
                                                     "中国农业银行", "招商银行",     "交通银行",
                                                     "兴业银行",     "浦发银行"};

constexpr std::array<int, 11> kCapitalWan = {100,  200,  300,  500,   800,  1000,
                                             2000, 3000, 5000, 10000, 20000};

constexpr std::array<absl::string_view, 5> kOwnershipForms = {"民营", "国有", "中外合资",
                                                              "外商独资", "股份制"};

constexpr std::array<absl::string_view, 6> kPreferences = {
    "prefers e-mail",         "prefers phone calls in the morning", "prefers WeChat messages",
    "prefers on-site visits", "prefers written quotations",         ""};

constexpr std::array<absl::string_view, 6> kPotentialNotes = {
    "计划2027年扩建二期厂房，设备采购预算约800万元",
    "正在评估替换现有供应商，关注交期与售后",
    "有意签订年度框架协议，年采购额预计500万元以上",
    "出口订单增长，需要稳定的交付保障",
    "新项目招标预计明年一季度启动",
    "预算收紧，对价格较敏感"};

struct Role {
  absl::string_view title;
  pb::DecisionRole role;
};

constexpr std::array<Role, 3> kDecisionMakers = {{{"总经理", pb::DECISION_ROLE_DECISION_MAKER},
                                                  {"董事长", pb::DECISION_ROLE_DECISION_MAKER},
                                                  {"副总经理", pb::DECISION_ROLE_DECISION_MAKER}}};
constexpr std::array<Role, 5> kOtherRoles = {{{"采购经理", pb::DECISION_ROLE_INFLUENCER},
                                              {"财务总监", pb::DECISION_ROLE_CONTROLLER},
                                              {"技术总监", pb::DECISION_ROLE_RECOMMENDER},
                                              {"生产经理", pb::DECISION_ROLE_USER},
                                              {"总经理助理", pb::DECISION_ROLE_GATEKEEPER}}};
constexpr std::array<Role, 3> kGovernmentRoles = {{{"采购科科长", pb::DECISION_ROLE_INFLUENCER},
                                                   {"财务科科长", pb::DECISION_ROLE_CONTROLLER},
                                                   {"办公室主任", pb::DECISION_ROLE_GATEKEEPER}}};

struct Person {
  std::string name;
  std::string pinyin;  // "wangjianguo", for e-mail addresses
};

Person RandomPerson(Random& random) {
  const Syllable& surname = random.Pick(kSurnames);
  const Syllable& given = random.Pick(kGivenNames);
  return {absl::StrCat(surname.hanzi, given.hanzi), absl::StrCat(surname.pinyin, given.pinyin)};
}

tierwise::type::v1::Money Cny(int64_t yuan) {
  tierwise::type::v1::Money money;
  money.set_minor_units(yuan * 100);
  money.set_currency("CNY");
  return money;
}

void SetDate(tierwise::type::v1::Date* date, int year, int month, int day) {
  date->set_year(year);
  date->set_month(month);
  date->set_day(day);
}

// The 9-character organisation code inside a credit code: 8 characters and their check
// character (GB 11714: weights 3,7,9,10,5,8,4,2; 10 -> 'X', 11 -> '0'). Companies registered
// since 2015 get the "MA" codes of the unified registration.
std::string OrganisationCode(Random& random, int established_year) {
  std::string code;
  if (established_year >= 2015) {
    code = "MA";
    while (code.size() < 8) code += kCreditCodeCharset[random.Below(kCreditCodeCharset.size())];
  } else {
    code = random.Digits(8);
  }
  constexpr int kWeights[8] = {3, 7, 9, 10, 5, 8, 4, 2};
  int sum = 0;
  for (int i = 0; i < 8; ++i) {
    char c = code[static_cast<size_t>(i)];
    int value = c >= '0' && c <= '9' ? c - '0' : c - 'A' + 10;
    sum += value * kWeights[i];
  }
  int check = 11 - sum % 11;
  code += check == 10 ? 'X' : check == 11 ? '0' : static_cast<char>('0' + check);
  return code;
}

// "91" (enterprise), "92" (individual business) or "11" (government body), then the district
// code, the organisation code and the check character.
std::string CreditCode(Random& random, absl::string_view prefix, absl::string_view region_code,
                       int established_year) {
  std::string code = absl::StrCat(prefix, region_code, OrganisationCode(random, established_year));
  code += CreditCodeCheckChar(code);
  return code;
}

std::string BrandName(Random& random, std::string* pinyin) {
  size_t first = random.Below(kBrandSyllables.size());
  size_t second = random.Below(kBrandSyllables.size() - 1);
  if (second >= first) ++second;
  *pinyin = absl::StrCat(kBrandSyllables[first].pinyin, kBrandSyllables[second].pinyin);
  return absl::StrCat(kBrandSyllables[first].hanzi, kBrandSyllables[second].hanzi);
}

class Generator {
 public:
  Generator(uint64_t seed, int index, std::set<std::string>* used_names)
      : random_(MixSeed(seed, static_cast<uint64_t>(index))),
        index_(index),
        used_names_(used_names) {}

  DemoCustomer Generate() {
    DemoCustomer result;
    pb::Customer& customer = result.customer;
    customer.set_external_ref(absl::StrFormat("ERP-C%05d", index_));

    static constexpr pb::Nature kNatures[] = {pb::NATURE_ENTERPRISE, pb::NATURE_TRADING_PARTNER,
                                              pb::NATURE_GOVERNMENT, pb::NATURE_SPECIAL_PARTNER,
                                              pb::NATURE_INDIVIDUAL};
    nature_ = kNatures[random_.Weighted({68, 14, 7, 6, 5})];
    customer.set_nature(nature_);

    city_ = &kCities[WeightedCity()];
    district_ = &random_.Pick(city_->districts);
    customer.mutable_region()->set_province(std::string(city_->province));
    customer.mutable_region()->set_city(std::string(city_->city));

    industry_ = &random_.Pick(kIndustries);
    established_year_ = random_.Between(1993, 2023);

    NameCustomer(customer);
    static constexpr const char* kOwners[] = {"rep.zhang", "rep.chen", "manager.li"};
    customer.set_owner(kOwners[random_.Weighted({45, 45, 10})]);

    static constexpr pb::LifecycleStage kStages[] = {
        pb::LIFECYCLE_STAGE_ACTIVE, pb::LIFECYCLE_STAGE_PROSPECT, pb::LIFECYCLE_STAGE_DORMANT,
        pb::LIFECYCLE_STAGE_FORMER};
    pb::LifecycleStage stage = kStages[random_.Weighted({68, 14, 12, 6})];
    customer.set_lifecycle_stage(stage);

    FillRegistration(*customer.mutable_registration());

    // Everyone but a prospect has bought from us at least once.
    int first_year = 0;
    if (stage != pb::LIFECYCLE_STAGE_PROSPECT) {
      first_year = random_.Between(std::max(established_year_ + 1, 2012), 2026);
      SetDate(customer.mutable_first_transaction_date(), first_year,
              random_.Between(1, first_year == 2026 ? 10 : 12), random_.Between(1, 28));
    }

    if (stage == pb::LIFECYCLE_STAGE_ACTIVE && nature_ != pb::NATURE_INDIVIDUAL &&
        random_.Percent(15)) {
      customer.add_tags("key-account");
    }
    if (industry_->exporter && nature_ == pb::NATURE_ENTERPRISE && random_.Percent(30)) {
      customer.add_tags("export");
    }
    if (nature_ == pb::NATURE_TRADING_PARTNER && random_.Percent(50)) customer.add_tags("export");
    if (first_year == 2026) customer.add_tags("new-2026");
    if (nature_ == pb::NATURE_SPECIAL_PARTNER) customer.add_tags("strategic");
    if (random_.Percent(10)) customer.add_tags("price-sensitive");
    if (random_.Percent(30)) {
      customer.set_potential_notes(std::string(random_.Pick(kPotentialNotes)));
    }
    customer.set_data_consent(true);

    AddContacts(result.contacts);
    return result;
  }

 private:
  size_t WeightedCity() {
    int total = 0;
    for (const City& city : kCities) total += city.weight;
    int point = static_cast<int>(random_.Below(static_cast<uint64_t>(total)));
    for (size_t i = 0; i < kCities.size(); ++i) {
      if (point < kCities[i].weight) return i;
      point -= kCities[i].weight;
    }
    return 0;
  }

  // Legal name, short name, industry, business mode, and the brand used for web and e-mail.
  void NameCustomer(pb::Customer& customer) {
    std::string legal_name;
    for (int attempt = 0; attempt < 50; ++attempt) {
      legal_name = MakeName(customer);
      if (!used_names_->contains(legal_name)) break;
    }
    if (used_names_->contains(legal_name)) {
      legal_name = absl::StrCat(legal_name, "（", index_, "）");
    }
    used_names_->insert(legal_name);
    customer.set_legal_name(legal_name);
  }

  std::string MakeName(pb::Customer& customer) {
    std::string city_full(city_->city_full);
    switch (nature_) {
      case pb::NATURE_GOVERNMENT: {
        const Department& department = random_.Pick(kDepartments);
        department_ = &department;
        bool district_level = random_.Percent(50);
        customer.set_industry("public_sector");
        customer.set_business_mode("public");
        customer.set_short_name(absl::StrCat(city_->city, department.short_name));
        domain_ = absl::StrCat(department.mail_code, ".", city_->pinyin, ".gov.cn");
        return absl::StrCat(city_full, district_level ? district_->name : "", department.name);
      }
      case pb::NATURE_INDIVIDUAL: {
        owner_person_ = RandomPerson(random_);
        absl::string_view shop = random_.Pick(kShopKinds);
        customer.set_industry("retail");
        customer.set_business_mode("retailer");
        customer.set_short_name(absl::StrCat(owner_person_.name, shop));
        domain_ = "";
        return absl::StrCat(city_full, district_->name, owner_person_.name, shop);
      }
      default:
        break;
    }
    std::string brand = BrandName(random_, &domain_);
    domain_ += ".com.cn";
    absl::string_view word = random_.Pick(industry_->name_words);
    absl::string_view short_word = industry_->short_word;
    customer.set_industry(std::string(industry_->code));
    customer.set_business_mode(std::string(industry_->business_mode));
    if (nature_ == pb::NATURE_TRADING_PARTNER) {
      word = random_.Pick(kTradingWords);
      short_word = "贸易";
      customer.set_business_mode("distributor");
    } else if (nature_ == pb::NATURE_SPECIAL_PARTNER) {
      word = random_.Pick(kPartnerWords);
      short_word = "研究院";
      customer.set_business_mode("partner");
    }
    customer.set_short_name(absl::StrCat(brand, short_word));
    joint_stock_ = random_.Percent(20);
    return absl::StrCat(city_->city, brand, word, joint_stock_ ? "股份有限公司" : "有限公司");
  }

  std::string Address() {
    return absl::StrCat(city_->province_full, city_->city_full, district_->name,
                        random_.Pick(kStreets), random_.Between(1, 999), "号");
  }

  std::string LandLine() {
    static constexpr char kFirstDigits[] = "5678";
    return absl::StrCat(city_->area_code, "-", std::string(1, kFirstDigits[random_.Below(4)]),
                        random_.Digits(7));
  }

  void FillRegistration(pb::Registration& registration) {
    absl::string_view prefix = nature_ == pb::NATURE_GOVERNMENT   ? "11"
                               : nature_ == pb::NATURE_INDIVIDUAL ? "92"
                                                                  : "91";
    std::string code = CreditCode(random_, prefix, district_->code, established_year_);
    registration.set_unified_credit_code(code);
    registration.set_tax_id(code);
    legal_representative_ =
        nature_ == pb::NATURE_INDIVIDUAL ? owner_person_ : RandomPerson(random_);
    registration.set_legal_representative(legal_representative_.name);
    SetDate(registration.mutable_established_date(), established_year_, random_.Between(1, 12),
            random_.Between(1, 28));
    registration.set_bank_name(
        random_.Percent(50)
            ? absl::StrCat(random_.Pick(kBanks), city_->city, "分行")
            : absl::StrCat(random_.Pick(kBanks), city_->city, district_->name, "支行"));
    registration.set_bank_account(
        absl::StrCat(random_.Between(1, 9), random_.Digits(random_.Between(15, 18))));
    registration.set_address(Address());
    registration.set_phone(LandLine());

    int employees = 0;
    int64_t capital_yuan = 0;
    switch (nature_) {
      case pb::NATURE_GOVERNMENT:
        employees = random_.Between(40, 800);
        registration.set_email(absl::StrCat("office@", domain_));
        registration.set_website(absl::StrCat("www.", domain_));
        registration.set_ownership_form("国家机关");
        break;
      case pb::NATURE_INDIVIDUAL:
        employees = random_.Between(1, 10);
        capital_yuan = int64_t{10000} * random_.Between(5, 50);
        registration.set_email(
            absl::StrCat(owner_person_.pinyin, random_.Percent(50) ? "@163.com" : "@qq.com"));
        registration.set_ownership_form("个体");
        break;
      default: {
        int64_t capital_wan = random_.Pick(kCapitalWan);
        if (joint_stock_ && capital_wan < 5000) capital_wan *= 10;
        capital_yuan = capital_wan * 10000;
        // Roughly one employee per 100k-400k CNY of registered capital.
        employees = static_cast<int>(std::min<int64_t>(
            20 + capital_wan / 40 * random_.Between(1, 4) + random_.Between(0, 80), 12000));
        registration.set_email(absl::StrCat(random_.Percent(80) ? "info@" : "sales@", domain_));
        registration.set_website(absl::StrCat("www.", domain_));
        registration.set_ownership_form(
            std::string(joint_stock_ ? "股份制" : random_.Pick(kOwnershipForms)));
        break;
      }
    }
    registration.set_employees(employees);
    if (capital_yuan > 0) {
      *registration.mutable_registered_capital() = Cny(capital_yuan);
      // Revenue per employee of 0.3-2 million CNY, rounded to 10k.
      int64_t revenue = int64_t{employees} * random_.Between(30, 200) * 10000;
      *registration.mutable_annual_revenue() = Cny(revenue);
      *registration.mutable_fixed_assets() = Cny(revenue / 100 * random_.Between(20, 80));
      *registration.mutable_working_capital() = Cny(revenue / 100 * random_.Between(10, 40));
    }
  }

  pb::Contact MakeContact(const Person& person, const Role& role) {
    pb::Contact contact;
    contact.set_name(person.name);
    contact.set_title(std::string(role.title));
    contact.set_role(role.role);
    contact.set_key_man(role.role == pb::DECISION_ROLE_DECISION_MAKER);
    contact.set_phone(absl::StrCat("13", random_.Digits(9)));
    contact.set_email(domain_.empty() || nature_ == pb::NATURE_INDIVIDUAL
                          ? absl::StrCat(person.pinyin, "@163.com")
                          : absl::StrCat(person.pinyin, "@", domain_));
    if (random_.Percent(60)) {
      SetDate(contact.mutable_birthday(), random_.Between(1962, 1995), random_.Between(1, 12),
              random_.Between(1, 28));
    }
    contact.set_preferences(std::string(random_.Pick(kPreferences)));
    return contact;
  }

  void AddContacts(std::vector<pb::Contact>& contacts) {
    if (nature_ == pb::NATURE_INDIVIDUAL) {
      contacts.push_back(MakeContact(owner_person_, {"负责人", pb::DECISION_ROLE_DECISION_MAKER}));
      return;
    }
    Role head = nature_ == pb::NATURE_GOVERNMENT
                    ? Role{department_->head_title, pb::DECISION_ROLE_DECISION_MAKER}
                    : random_.Pick(kDecisionMakers);
    // The chairman is usually the legal representative as well.
    Person head_person = head.title == "董事长" ? legal_representative_ : RandomPerson(random_);
    contacts.push_back(MakeContact(head_person, head));
    int others = random_.Between(0, 2);
    size_t first = random_.Below(5);
    for (int i = 0; i < others; ++i) {
      const Role& role = nature_ == pb::NATURE_GOVERNMENT
                             ? kGovernmentRoles[(first + static_cast<size_t>(i)) % 3]
                             : kOtherRoles[(first + static_cast<size_t>(i)) % 5];
      contacts.push_back(MakeContact(RandomPerson(random_), role));
    }
  }

  Random random_;
  int index_;
  std::set<std::string>* used_names_;
  pb::Nature nature_ = pb::NATURE_ENTERPRISE;
  const City* city_ = nullptr;
  const District* district_ = nullptr;
  const Industry* industry_ = nullptr;
  const Department* department_ = nullptr;  // government only
  int established_year_ = 2010;
  bool joint_stock_ = false;
  std::string domain_;
  Person owner_person_;
  Person legal_representative_;
};

}  // namespace

char CreditCodeCheckChar(absl::string_view first17) {
  if (first17.size() != 17) return '\0';
  int sum = 0;
  for (size_t i = 0; i < 17; ++i) {
    size_t value = kCreditCodeCharset.find(first17[i]);
    if (value == absl::string_view::npos) return '\0';
    sum += static_cast<int>(value) * kCreditCodeWeights[i];
  }
  int check = 31 - sum % 31;
  if (check == 31) check = 0;
  return kCreditCodeCharset[static_cast<size_t>(check)];
}

std::vector<DemoCustomer> GenerateDemoCustomers(uint64_t seed, int count) {
  std::vector<DemoCustomer> customers;
  std::set<std::string> used_names;
  for (int i = 1; i <= count; ++i) {
    customers.push_back(Generator(seed, i, &used_names).Generate());
  }
  return customers;
}

}  // namespace tierwise::demo
