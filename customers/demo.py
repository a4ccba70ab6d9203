"""A believable demo portfolio (演示数据) for `manage.py seed_demo`, the same for the same seed.

Everything random comes from `random.Random` streams derived from the seed, one stream per kind
of row, so the customers of seed 42 do not change when, say, the contact generator draws one
more number. Dates count back from `today`, which the caller may pin.

Rows are written with `bulk_create` in batches, every field set explicitly so no row needs a
query of its own. `bulk_create` writes no django-simple-history rows, so a demo customer's
history starts with its first real change: writing the "created" rows as well made a
10,000-customer seed take 75% longer, for an entry nobody needs in a demo.

When the database already holds customers, new ones are added: the existing demo region tree is
reused, account and meter numbers continue after the highest existing ones (and skip any that
are taken), and each area's existing collectors get the new customers before new collectors
are added.
"""

import heapq
import itertools
import math
import random
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from functools import partial
from typing import TypeVar

from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group, User
from django.db import connection, transaction
from django.db.models import Count
from django.utils import timezone
from rest_framework.authtoken.models import Token

from core.roles import Role

from .choices import (
    ContactChannelChoices,
    CustomerBasicChargeBasisChoices,
    CustomerConditionChoices,
    CustomerImportanceChoices,
    CustomerIndustryChoices,
    CustomerOperatingStatusChoices,
    CustomerPaymentChannelChoices,
    CustomerSettlementModeChoices,
    MeterPointTypeChoices,
    RegionKindChoices,
    ServiceVisitKindChoices,
)
from .models import READING_DAY_MONTH_END, Contact, Customer, MeterPoint, Region, ServiceVisit
from .validators import uscc_check_char

T = TypeVar("T")

DEMO_PASSWORD = "gridcollect-demo"
COMPANY_CODE = "JZ"
CITY = "江州"
BATCH_SIZE = 1000
CUSTOMERS_PER_COLLECTOR = 40
MIN_COLLECTORS_PER_AREA = 2

# 户号: ten digits; the demo range starts here and keeps clear of hand-made and test accounts.
ACCOUNT_NO_FIRST = 3300010000
ACCOUNT_NO_LAST = 3399999999
# Meter asset numbers (资产编号): sixteen digits.
METER_NO_FIRST = 3310000000000000
METER_NO_LAST = 3319999999999999

IND = CustomerIndustryChoices
IMP = CustomerImportanceChoices
MODE = CustomerSettlementModeChoices
STATUS = CustomerOperatingStatusChoices
COND = CustomerConditionChoices
CHANNEL = CustomerPaymentChannelChoices
VISIT = ServiceVisitKindChoices


@dataclass(frozen=True)
class DemoLogin:
    username: str
    role: str
    scope: str


@dataclass
class DemoSeedResult:
    regions_created: int = 0
    customers: int = 0
    important: int = 0
    meter_points: int = 0
    contacts: int = 0
    service_visits: int = 0
    users_created: int = 0
    industries: Counter = field(default_factory=Counter)
    settlement_modes: Counter = field(default_factory=Counter)


# ---------------------------------------------------------------------------------------------
# The organisation: a company, 3–4 districts from this pool, 2–4 areas (片区) each.
# (name, place for addresses, administrative division code for credit codes, areas, favoured
# industry per area or None). The division codes are a fictional city's, in the shape of real ones.
# ---------------------------------------------------------------------------------------------
_DISTRICTS = [
    (
        "城东供电中心",
        "城东区",
        "329902",
        [
            ("城东片区", None),
            ("东关片区", IND.COMMERCIAL),
            ("火车站片区", IND.RAILWAY),
            ("东湖片区", IND.HOSPITAL),
            ("老城片区", IND.COMMERCIAL),
        ],
    ),
    (
        "城西供电中心",
        "城西区",
        "329903",
        [
            ("城西片区", None),
            ("西山片区", IND.CEMENT),
            ("南湖片区", IND.WATER),
            ("大学城片区", IND.OTHER),
            ("西郊片区", IND.MANUFACTURING),
        ],
    ),
    (
        "高新供电中心",
        "高新区",
        "329971",
        [
            ("高新区片区", IND.MANUFACTURING),
            ("科技城片区", IND.DATA_CENTRE),
            ("软件园片区", IND.TELECOM),
            ("创新港片区", IND.DATA_CENTRE),
            ("电子产业园片区", IND.MANUFACTURING),
        ],
    ),
    (
        "江北供电中心",
        "江北区",
        "329904",
        [
            ("江北片区", None),
            ("北站片区", IND.RAILWAY),
            ("滨江片区", IND.WATER),
            ("化工园片区", IND.CHEMICAL),
            ("钢城片区", IND.STEEL),
        ],
    ),
    (
        "临港供电中心",
        "临港区",
        "329905",
        [
            ("临港片区", IND.NON_FERROUS),
            ("港口片区", IND.STEEL),
            ("物流园片区", IND.COMMERCIAL),
            ("保税区片区", IND.MANUFACTURING),
            ("海港新城片区", None),
        ],
    ),
    (
        "经开供电中心",
        "经开区",
        "329972",
        [
            ("经开区片区", IND.MANUFACTURING),
            ("汽车城片区", IND.MANUFACTURING),
            ("装备园片区", IND.MANUFACTURING),
            ("新材料园片区", IND.NON_FERROUS),
            ("综保区片区", None),
        ],
    ),
]
_AREA_FAVOURED_WEIGHT = 2.5

# Share of each industry among a city's large customers (relative weights).
_INDUSTRY_WEIGHTS = {
    IND.MANUFACTURING: 30,
    IND.COMMERCIAL: 16,
    IND.CHEMICAL: 9,
    IND.STEEL: 6,
    IND.CEMENT: 5,
    IND.NON_FERROUS: 5,
    IND.HOSPITAL: 4.5,
    IND.TELECOM: 4,
    IND.DATA_CENTRE: 3,
    IND.WATER: 3,
    IND.RAILWAY: 1.5,
    IND.OTHER: 3,
}
# (class 1, class 2) probabilities: hospitals, railways and water works are the important loads.
_IMPORTANCE = {
    IND.HOSPITAL: (0.45, 0.45),
    IND.RAILWAY: (0.70, 0.30),
    IND.TELECOM: (0.20, 0.40),
    IND.DATA_CENTRE: (0.20, 0.40),
    IND.WATER: (0.30, 0.45),
    IND.CHEMICAL: (0.02, 0.06),
    IND.STEEL: (0.01, 0.03),
    IND.NON_FERROUS: (0.0, 0.02),
    IND.COMMERCIAL: (0.0, 0.02),
    IND.OTHER: (0.0, 0.08),  # schools and government buildings: class 2 at most
    IND.MANUFACTURING: (0.0, 0.005),
    IND.CEMENT: (0.0, 0.01),
}
# Supply voltage (kV) weights per industry.
_VOLTAGES = {
    IND.STEEL: {10: 2, 35: 3, 110: 4, 220: 1},
    IND.CHEMICAL: {10: 4, 35: 3, 110: 2.5, 220: 0.5},
    IND.CEMENT: {10: 3, 35: 4, 110: 3},
    IND.NON_FERROUS: {10: 3, 35: 3, 110: 3, 220: 1},
    IND.MANUFACTURING: {10: 8, 35: 1.5, 110: 0.5},
    IND.HOSPITAL: {10: 9, 35: 1},
    IND.RAILWAY: {110: 7, 220: 3},
    IND.TELECOM: {10: 8, 35: 2},
    IND.DATA_CENTRE: {10: 4, 35: 3, 110: 3},
    IND.WATER: {10: 8, 35: 2},
    IND.COMMERCIAL: {10: 9, 35: 1},
    IND.OTHER: {10: 10},
}
# Standard transformer ratings (kVA) per supply voltage; smaller ones are more common.
_CAPACITIES = {
    10: [315, 400, 500, 630, 800, 1000, 1250, 1600, 2000, 2500, 3150, 4000, 5000, 6300, 8000],
    35: [5000, 6300, 8000, 10000, 12500, 16000, 20000, 25000, 31500, 40000],
    110: [31500, 40000, 50000, 63000, 80000, 100000, 126000, 160000, 180000, 200000],
    220: [100000, 120000, 150000, 180000, 240000, 300000, 360000, 480000, 600000],
}
# Voltage transformer ratio (PT) per supply voltage: primary volts / 100 V.
_PT_RATIO = {10: 100, 35: 350, 110: 1100, 220: 2200}
# Standard current transformer primary ratings (A).
_CT_PRIMARY = [5, 10, 15, 20, 30, 40, 50, 75, 100, 150, 200, 300, 400, 500, 600, 750, 800, 1000, 1200, 1500, 2000]
_ENERGY_INTENSIVE = {IND.STEEL, IND.CHEMICAL, IND.CEMENT, IND.NON_FERROUS}
# Employees per kVA and output (10k yuan) per employee, by industry: rough, but the right order.
_SCALE = {
    IND.STEEL: (0.05, 300),
    IND.CHEMICAL: (0.06, 260),
    IND.CEMENT: (0.04, 180),
    IND.NON_FERROUS: (0.04, 320),
    IND.MANUFACTURING: (0.25, 80),
    IND.HOSPITAL: (0.6, 45),
    IND.RAILWAY: (0.003, 500),
    IND.TELECOM: (0.05, 200),
    IND.DATA_CENTRE: (0.01, 400),
    IND.WATER: (0.08, 60),
    IND.COMMERCIAL: (0.3, 70),
    IND.OTHER: (0.5, 30),
}


# ---------------------------------------------------------------------------------------------
# Names
# ---------------------------------------------------------------------------------------------
def _words(text: str) -> list[str]:
    return text.split()


_BRANDS = _words(
    "宏达 鑫源 恒信 华联 金鼎 盛隆 永兴 天成 瑞丰 中天 东方 新华 国泰 长城 宝丰 海达 启明 博远 卓越 银河 "
    "龙腾 凯旋 明珠 开元 泰和 嘉禾 远航 汇通 江海 振华 德润 安泰 顺达 金桥 华鼎 弘业 万通 恒泰 晨光 富春 "
    "金港 华星 巨能 立信 新宇 诚达 润泽 鼎盛 和顺 鸿运 天利 兴业 富源 红星 光明 联创 远东 中兴 新诚 永安"
)
_GROUP_PREFIXES = ["华东", "江南", "长江", "东海"]
_TRADES = {
    IND.STEEL: ["钢铁", "特钢", "钢管", "金属制品", "不锈钢", "轧钢"],
    IND.CHEMICAL: ["化工", "石化", "氯碱化工", "精细化工", "化肥", "新材料科技", "树脂", "工业气体"],
    IND.CEMENT: ["水泥", "建材", "新型建材", "混凝土", "玻纤"],
    IND.NON_FERROUS: ["铝业", "铜业", "有色金属", "锌业", "硅业", "稀土材料", "铝材"],
    IND.MANUFACTURING: [
        "机械制造",
        "汽车零部件",
        "电子科技",
        "纺织",
        "食品",
        "玻璃",
        "造纸",
        "精密机械",
        "光电科技",
        "新能源科技",
        "电缆",
        "塑业",
        "制药",
        "轮胎",
        "重工",
        "家电",
        "印染",
        "包装材料",
        "电机",
        "汽车",
    ],
}
_FORMS = ["有限公司", "有限公司", "股份有限公司", "集团有限公司"]
_ORDINALS = "一二三四五六七八九十"
_PLACES = _words(
    "新港 白鹭洲 梅园 桃花坞 龙门 青山 柳湾 凤凰山 金沙 石桥 清溪 湖滨 枫林 松岗 东关 西山 南湖 北站 滨江 "
    "科技城 大学城 老城 钢城 临港 汽车城 望江 太平 长乐 兴隆 双塘 杨柳 红旗 朝阳 花园"
)
_ROADS = _words(
    "解放路 人民路 建设路 中山路 长江路 黄河路 科技大道 工业大道 滨江大道 创业路 兴业路 环城东路 环城西路 "
    "纬一路 经二路 港城大道 迎宾大道 新华路 文化路 和平路 胜利路 幸福路 钢城大道 化工大道 园区一路 园区三路"
)
_RAIL_LINES = ["京沪高铁", "沪宁城际", "宁杭高铁", "沿江高铁", "江州地铁1号线", "江州地铁2号线", "江州地铁3号线"]
_TELECOM_OPERATORS = [
    "中国移动通信集团江南有限公司江州分公司",
    "中国电信股份有限公司江州分公司",
    "中国联合网络通信有限公司江州市分公司",
    "中国铁塔股份有限公司江州市分公司",
]
_TELECOM_SITES = ["枢纽楼", "通信机楼", "核心机房", "数据中心"]
_SURNAMES = _words(
    "王 李 张 刘 陈 杨 黄 赵 吴 周 徐 孙 马 朱 胡 郭 何 高 林 罗 郑 梁 谢 宋 唐 许 韩 冯 邓 曹 彭 曾 肖 田 董 袁 "
    "潘 于 蒋 蔡 余 杜 叶 程 苏 魏 吕 丁 任 沈 姚 卢 姜 崔 钟 谭 陆 汪 范 金 石 廖 贾 夏 韦 方 白 邹 孟 熊 秦 "
    "邱 江 尹 薛 段 雷 侯 龙 史 陶 黎 贺 顾 毛 郝 龚 邵 万 钱 严 武 戴 莫 孔 向 汤"
)
# Pinyin of the surnames above, for WeChat ids and e-mail addresses.
_SURNAME_PINYIN = dict(
    zip(
        _SURNAMES,
        _words(
            "wang li zhang liu chen yang huang zhao wu zhou xu sun ma zhu hu guo he gao lin luo zheng liang xie "
            "song tang xu han feng deng cao peng zeng xiao tian dong yuan pan yu jiang cai yu du ye cheng su wei "
            "lv ding ren shen yao lu jiang cui zhong tan lu wang fan jin shi liao jia xia wei fang bai zou meng "
            "xiong qin qiu jiang yin xue duan lei hou long shi tao li he gu mao hao gong shao wan qian yan wu dai "
            "mo kong xiang tang"
        ),
        strict=True,
    )
)
_GIVEN_NAMES = _words(
    "伟 芳 娜 敏 静 丽 强 磊 军 洋 勇 艳 杰 娟 涛 明 超 秀英 霞 平 刚 桂英 建华 建国 志强 海燕 红 丹 玲 斌 宇 浩 "
    "凯 鹏 晨 鑫 婷 雪 慧 建军 国华 文 辉 波 琳 晓东 晓梅 春梅 立新 永刚 亚楠 子涵 思远 俊杰 家豪 志刚 玉兰 "
    "建平 海涛 小军 文静 晓燕 国强 红梅 丽娟 德明 振宇 雨欣 佳怡 欣然 浩然 宏伟 金凤"
)
_EMAIL_DOMAINS = ["example.com", "example.net", "example.org"]  # reserved names: demo mail never reaches anyone
_MOBILE_PREFIXES = _words(
    "130 131 132 133 134 135 136 137 138 139 147 150 151 152 153 155 156 157 158 159 166 173 176 177 180 181 "
    "182 183 184 185 186 187 188 189 198 199"
)
_FINANCE_ROLES = ["财务经理", "财务主管", "财务科长", "会计", "出纳"]
_ELECTRICAL_ROLES = ["电气主管", "动力科长", "值班电工", "设备部经理", "配电室负责人"]
_HEAD_ROLES = ["总经理", "分管副总经理", "行政主管", "办公室主任"]
_PUBLIC_FINANCE_ROLES = ["财务科科长", "财务处会计", "出纳"]
_PUBLIC_ELECTRICAL_ROLES = ["总务科科长", "后勤保障处处长", "配电房值班员"]
_PUBLIC_HEAD_ROLES = ["分管副院长", "办公室主任", "后勤副主任"]
_PUBLIC_INDUSTRIES = {IND.HOSPITAL, IND.WATER, IND.OTHER}

_HV_METER_LOCATIONS = [
    "总降变电站进线计量柜",
    "1号主变高压侧",
    "2号主变高压侧",
    "高压配电室计量柜",
    "开闭所进线柜",
    "箱式变电站高压计量柜",
]
_LV_METER_LOCATIONS = ["1号低压配电室", "2号低压配电室", "厂区北门配电间", "综合楼地下配电房", "食堂配电箱"]
_METER_USAGES = {
    IND.STEEL: ["电炉炼钢", "轧钢生产线", "制氧站", "办公及生活"],
    IND.CHEMICAL: ["电解车间", "生产装置", "循环水泵房", "办公照明"],
    IND.CEMENT: ["熟料生产线", "水泥磨", "余热发电厂用电", "办公照明"],
    IND.NON_FERROUS: ["电解铝生产", "熔铸车间", "整流所", "办公照明"],
    IND.MANUFACTURING: ["生产用电", "空压站", "空调动力", "办公照明"],
    IND.HOSPITAL: ["门诊楼", "住院楼", "医技楼（手术室、ICU）", "空调动力"],
    IND.RAILWAY: ["牵引供电", "站房动力", "信号电源"],
    IND.TELECOM: ["通信机房", "空调动力", "办公照明"],
    IND.DATA_CENTRE: ["数据机房", "冷水机组", "办公照明"],
    IND.WATER: ["取水泵房", "送水泵房", "污水处理工艺", "办公照明"],
    IND.COMMERCIAL: ["商场营业", "中央空调", "酒店客房", "地下车库"],
    IND.OTHER: ["教学办公", "空调动力", "生活区"],
}
_VISIT_KIND_WEIGHTS = {
    VISIT.ROUTINE: 45,
    VISIT.TECHNICAL: 12,
    VISIT.INSPECTION: 18,
    VISIT.TRAINING: 8,
    VISIT.EMERGENCY_PLAN: 7,
    VISIT.MAINTENANCE: 5,
}
_VISIT_FINDINGS = {
    VISIT.ROUTINE: [
        "例行走访，客户生产经营正常，电费按时缴纳。",
        "走访财务负责人，核对上月电费账单，无异议。",
        "告知客户峰谷分时电价调整，建议将部分负荷移至谷段。",
        "了解客户下季度生产计划，预计用电量基本持平。",
    ],
    VISIT.TECHNICAL: [
        "协助客户分析功率因数偏低原因，建议增加无功补偿装置。",
        "为客户测算需量与容量两种基本电费方式，建议维持现有方式。",
        "解答客户关于分时电价和电费构成的疑问。",
    ],
    VISIT.INSPECTION: [
        "检查高压配电室，设备运行正常。",
        "检查发现电缆终端头发热，已通知客户限期处理。",
        "检查发现部分进线电缆老化，建议列入年度改造计划。",
        "计量装置封印完好，电能表运行正常。",
    ],
    VISIT.TRAINING: [
        "为客户电工开展高压设备安全操作培训。",
        "组织客户值班电工学习倒闸操作规程。",
    ],
    VISIT.EMERGENCY_PLAN: [
        "协助客户修订停电应急预案，核实自备应急电源容量。",
        "检查自备发电机启动试验记录，应急电源可在规定时间内投入。",
    ],
    VISIT.MAINTENANCE: [
        "与客户签订配电设施运维托管协议。",
        "续签配电设备年度维护合同。",
    ],
}
_DIFFICULTY_FINDINGS = [
    "客户生产下滑，电量较去年同期明显下降，提醒按时缴纳电费。",
    "客户反映资金紧张，商议分次结算安排。",
    "客户部分生产线停产，已向片区负责人报告。",
]


# ---------------------------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------------------------
def _stream(seed: int, name: str) -> random.Random:
    # A string seed is hashed with SHA-512, so the stream is the same on every Python and machine.
    return random.Random(f"gridcollect-demo:{seed}:{name}")


def _weighted(rng: random.Random, weights: dict[T, float]) -> T:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _person_name(rng: random.Random) -> tuple[str, str]:
    return rng.choice(_SURNAMES), rng.choice(_GIVEN_NAMES)


def _org_code(rng: random.Random) -> str:
    """A 9-character organisation code (GB 11714): 8 digits and their check character."""
    body = [rng.randint(0, 9) for _ in range(8)]
    body[0] = rng.randint(1, 9)
    weights = (3, 7, 9, 10, 5, 8, 4, 2)
    check = 11 - sum(d * w for d, w in zip(body, weights, strict=True)) % 11
    return "".join(map(str, body)) + {10: "X", 11: "0"}.get(check, str(check))


def _uscc(rng: random.Random, division_code: str, public_institution: bool) -> str:
    # 9 1 = registered by market regulation, enterprise; 1 2 = institution registry, public institution (事业单位).
    body = ("12" if public_institution else "91") + division_code + _org_code(rng)
    return body + uscc_check_char(body)


def _mobile(rng: random.Random) -> str:
    return rng.choice(_MOBILE_PREFIXES) + f"{rng.randint(0, 99_999_999):08d}"


def _ct_primary(amps: float) -> int:
    # The CT is rated at the next standard primary current above 1.2× the expected load current.
    for rating in _CT_PRIMARY:
        if rating >= amps * 1.2:
            return rating
    return _CT_PRIMARY[-1]


class _Numbers:
    """Ascending unique numbers in [first, last] after the highest already taken in that range."""

    def __init__(self, taken: set[str], first: int, last: int):
        self.taken = taken
        in_range = [int(value) for value in taken if value.isdigit() and first <= int(value) <= last]
        self.current = max(in_range, default=first - 1)
        self.last = last

    def next(self, gap: int) -> str:
        self.current += gap
        while str(self.current) in self.taken:
            self.current += 1
        if self.current > self.last:
            raise ValueError("The demo number range is exhausted.")
        value = str(self.current)
        self.taken.add(value)
        return value


class _Names:
    """Unique customer names: a second site of the same company becomes a branch (分公司) or site."""

    def __init__(self, taken: set[str]):
        self.taken = taken

    def unique(self, make: Callable[[], str], *, branch: str) -> str:
        for _ in range(12):
            name = make()
            if name not in self.taken:
                break
        else:
            name = f"{name}{branch}"
            site = 2
            while name in self.taken:
                name = f"{make()}（{site}号厂区）"
                site += 1
        self.taken.add(name)
        return name


# ---------------------------------------------------------------------------------------------
# Regions
# ---------------------------------------------------------------------------------------------
@dataclass
class _Area:
    region: Region
    district_place: str
    division_code: str
    favoured: str | None
    weight: float


def _area_details() -> dict[str, tuple[str, str, str | None]]:
    """Area name → (district place, division code, favoured industry)."""
    return {
        area_name: (place, division, favoured)
        for _, place, division, areas in _DISTRICTS
        for area_name, favoured in areas
    }


def _regions_ensure(seed: int, every_area: bool = False) -> tuple[list[_Area], int]:
    """The demo tree: the existing one when the company region is there, else a new one (of
    3–4 districts with 2–4 areas each, or with every district and area of the pool)."""
    rng = _stream(seed, "regions")
    details = _area_details()
    company = Region.objects.filter(code=COMPANY_CODE).first()
    created = 0
    if company is None:
        company = Region.objects.create(code=COMPANY_CODE, name=f"{CITY}供电公司", kind=RegionKindChoices.COMPANY)
        created += 1
        chosen = sorted(rng.sample(range(len(_DISTRICTS)), rng.randint(3, 4)))
        if every_area:
            chosen = list(range(len(_DISTRICTS)))
        for d_index, pool_index in enumerate(chosen, start=1):
            name, _, _, area_pool = _DISTRICTS[pool_index]
            district = Region.objects.create(
                code=f"D{d_index:02d}", name=name, kind=RegionKindChoices.DISTRICT, parent=company
            )
            picked = sorted(rng.sample(range(len(area_pool)), rng.randint(2, 4)))
            if every_area:
                picked = list(range(len(area_pool)))
            Region.objects.bulk_create(
                Region(
                    code=f"D{d_index:02d}A{a_index:02d}",
                    name=area_pool[pool_area][0],
                    kind=RegionKindChoices.AREA,
                    parent=district,
                )
                for a_index, pool_area in enumerate(picked, start=1)
            )
            created += 1 + len(picked)
    regions = list(
        Region.objects.filter(kind=RegionKindChoices.AREA, parent__parent=company)
        .select_related("leader")
        .order_by("code")
    )
    if not regions:
        raise ValueError(f"The demo company region {COMPANY_CODE} exists but has no areas below its districts.")
    areas = []
    for region in regions:
        place, division, favoured = details.get(region.name, (f"{CITY}市", "329900", None))
        # Some areas are busier than others; a fixed draw per area code keeps it stable across runs.
        weight = _stream(seed, f"area-weight:{region.code}").uniform(0.6, 1.4)
        areas.append(_Area(region, place, division, favoured, weight))
    return areas, created


# ---------------------------------------------------------------------------------------------
# Customers
# ---------------------------------------------------------------------------------------------
def _customer_name(rng: random.Random, industry: str, area: _Area) -> str:
    brand = rng.choice(_BRANDS)
    place = rng.choice(_PLACES)
    district = area.district_place
    if industry in _TRADES:
        trade, form = rng.choice(_TRADES[industry]), rng.choice(_FORMS)
        pattern = rng.randint(0, 3)
        if pattern == 0:
            return f"{CITY}市{brand}{trade}{form}"
        if pattern == 1:
            return f"{CITY}{brand}{trade}{form}"
        if pattern == 2:
            return f"{brand}（{CITY}）{trade}{form}"
        return f"{rng.choice(_GROUP_PREFIXES)}{brand}{trade}集团有限公司"
    if industry == IND.HOSPITAL:
        return rng.choice(
            [
                f"{CITY}市第{rng.choice(_ORDINALS)}人民医院",
                f"{CITY}市中医院",
                f"{CITY}市妇幼保健院",
                f"{CITY}市儿童医院",
                f"{CITY}市肿瘤医院",
                f"{CITY}市传染病医院",
                f"{CITY}市精神卫生中心",
                f"{CITY}市中心血站",
                f"{CITY}医科大学附属第{rng.choice(_ORDINALS[:4])}医院",
                f"{CITY}市{district}人民医院",
                f"{CITY}市{district}中医院",
                f"{CITY}{brand}医院",
                f"{CITY}{brand}康复医院",
            ]
        )
    if industry == IND.RAILWAY:
        line = rng.choice(_RAIL_LINES)
        return f"{line}{place}{'主变电所' if '地铁' in line else '牵引变电所'}"
    if industry == IND.TELECOM:
        return f"{rng.choice(_TELECOM_OPERATORS)}{rng.choice(_ROADS)}{rng.choice(_TELECOM_SITES)}"
    if industry == IND.DATA_CENTRE:
        return rng.choice(
            [
                f"{brand}云计算数据中心",
                f"{CITY}{brand}数据科技有限公司",
                f"{CITY}{place}大数据产业园",
                f"{brand}智算中心",
            ]
        )
    if industry == IND.WATER:
        return rng.choice(
            [
                f"{CITY}水务集团有限公司{place}水厂",
                f"{CITY}市{place}污水处理厂",
                f"{CITY}水务集团有限公司{place}加压泵站",
                f"{CITY}{brand}水务有限公司",
            ]
        )
    if industry == IND.COMMERCIAL:
        return rng.choice(
            [
                f"{brand}广场",
                f"{CITY}{brand}购物中心",
                f"{brand}国际大酒店",
                f"{CITY}{brand}商业管理有限公司",
                f"{brand}城市广场",
                f"{CITY}{brand}百货有限公司",
            ]
        )
    return rng.choice(
        [
            f"{CITY}大学",
            f"{CITY}理工学院",
            f"{CITY}职业技术学院",
            f"{CITY}市行政中心",
            f"{CITY}奥林匹克体育中心",
            f"{CITY}国际会展中心",
            f"{CITY}市{district}人民政府",
            f"{CITY}市第{rng.choice(_ORDINALS)}中学",
            f"{CITY}市{district}行政服务中心",
        ]
    )


def _importance(rng: random.Random, industry: str) -> str:
    class_1, class_2 = _IMPORTANCE[industry]
    draw = rng.random()
    if draw < class_1:
        return IMP.CLASS_1
    if draw < class_1 + class_2:
        return IMP.CLASS_2
    return IMP.NORMAL


def _operating_status(rng: random.Random, industry: str, important: bool) -> str:
    if important:
        return _weighted(rng, {STATUS.NORMAL: 97, STATUS.REDUCED: 3})
    if industry in _ENERGY_INTENSIVE:
        weights = {STATUS.NORMAL: 76, STATUS.REDUCED: 15, STATUS.SUSPENDED: 5, STATUS.BANKRUPT: 2, STATUS.CLOSED: 2}
    else:
        weights = {STATUS.NORMAL: 87, STATUS.REDUCED: 8, STATUS.SUSPENDED: 2, STATUS.BANKRUPT: 1, STATUS.CLOSED: 2}
    return _weighted(rng, weights)


def _settlement_mode(rng: random.Random, voltage: int, important: bool, risky: bool) -> str:
    if important:
        # Important users are never put on a mode that trips them (DESIGN.md rule 8).
        return _weighted(rng, {MODE.MONTHLY: 75, MODE.INSTALMENTS: 25})
    if voltage >= 110:
        weights = {MODE.MONTHLY: 45, MODE.INSTALMENTS: 55}
    elif voltage == 35:
        weights = {MODE.MONTHLY: 63, MODE.INSTALMENTS: 30, MODE.PREPAID_REMOTE: 7}
    else:
        weights = {MODE.MONTHLY: 80, MODE.INSTALMENTS: 8, MODE.PREPAID_REMOTE: 5, MODE.PREPAID_CARD: 7}
    if risky:
        # Customers in difficulty or with poor equipment are the ones moved to prepayment.
        weights[MODE.PREPAID_REMOTE] = weights.get(MODE.PREPAID_REMOTE, 0) + 20
    return _weighted(rng, weights)


@dataclass
class _Planned:
    customer: Customer
    area: _Area


def _customers_plan(*, seed: int, count: int, areas: list[_Area], today: date) -> list[_Planned]:
    rng = _stream(seed, "customers")
    accounts = _Numbers(set(Customer.objects.values_list("account_no", flat=True)), ACCOUNT_NO_FIRST, ACCOUNT_NO_LAST)
    names = _Names(set(Customer.objects.values_list("name", flat=True)))
    area_weights = [area.weight for area in areas]
    planned: list[_Planned] = []
    for _ in range(count):
        area = rng.choices(areas, weights=area_weights)[0]
        industry_weights = dict(_INDUSTRY_WEIGHTS)
        if area.favoured:
            industry_weights[area.favoured] *= _AREA_FAVOURED_WEIGHT
        industry = _weighted(rng, industry_weights)
        importance = _importance(rng, industry)
        important = importance != IMP.NORMAL
        voltage = _weighted(rng, _VOLTAGES[industry])
        ratings = _CAPACITIES[voltage]
        # Smaller ratings are more common: weight the k-th rating by 1/(k+1).
        capacity = rng.choices(ratings, weights=[1 / (k + 1) for k in range(len(ratings))])[0]
        if voltage == 10 and capacity <= 4000 and rng.random() < 0.3:
            capacity *= 2  # two transformers of the same rating
        demand_share = {10: 0.15, 35: 0.4}.get(voltage, 0.6)
        basis = (
            CustomerBasicChargeBasisChoices.DEMAND
            if rng.random() < demand_share
            else CustomerBasicChargeBasisChoices.CAPACITY
        )
        contract_demand = None
        if basis == CustomerBasicChargeBasisChoices.DEMAND:
            contract_demand = max(10, round(capacity * rng.uniform(0.45, 0.8) / 10) * 10)
        status = _operating_status(rng, industry, important)
        condition = _weighted(rng, {COND.GOOD: 55, COND.FAIR: 33, COND.POOR: 12})
        opened_on = today - timedelta(days=rng.randint(365, 30 * 365))
        old = opened_on.year < 2005
        ageing_chance = {COND.GOOD: 0.04, COND.FAIR: 0.2, COND.POOR: 0.55}[condition] + (0.15 if old else 0)
        risky = status in (STATUS.REDUCED, STATUS.SUSPENDED) or (condition == COND.POOR and not important)
        mode = _settlement_mode(rng, voltage, important, risky)
        government_funded = industry in _PUBLIC_INDUSTRIES and rng.random() < {IND.HOSPITAL: 0.8, IND.WATER: 0.6}.get(
            industry, 0.7
        )
        reading_day = READING_DAY_MONTH_END
        if government_funded and rng.random() < 0.6:
            reading_day = rng.randint(25, 28)  # read before month end so the allocation arrives in time
        terms = 30 if government_funded else _weighted(rng, {15: 70, 10: 15, 20: 8, 30: 7})
        prepay_ratio = Decimal("1.000")
        instalments = None
        if mode == MODE.INSTALMENTS:
            instalments = 3
            prepay_ratio = Decimal(rng.choice(["1.000", "1.000", "1.000", "0.900", "0.800", "1.100"]))
            if status == STATUS.REDUCED:
                prepay_ratio = Decimal(rng.choice(["0.700", "0.800", "0.900"]))  # adjusted in difficulty
        if mode == MODE.PREPAID_CARD:
            channel = CHANNEL.PREPAID_CARD
        else:
            channel = _weighted(
                rng,
                {
                    CHANNEL.BANK_TRANSFER: 45,
                    CHANNEL.ONLINE_BANKING: 30,
                    CHANNEL.MOBILE: 12,
                    CHANNEL.SELF_SERVICE: 5,
                    CHANNEL.COUNTER: 8,
                },
            )
        per_kva, output_per_head = _SCALE[industry]
        employees = max(20, round(capacity * per_kva * rng.lognormvariate(0, 0.35)))
        annual_output = Decimal(employees * output_per_head * rng.lognormvariate(0, 0.4)).quantize(Decimal("0.01"))
        if status in (STATUS.BANKRUPT, STATUS.CLOSED):
            annual_output = Decimal("0.00")
        # Each customer's draws above are made before its name, so the name's retries don't shift them.
        name_rng = random.Random(rng.getrandbits(64))
        name = names.unique(partial(_customer_name, name_rng, industry, area), branch=f"{area.district_place}分公司")
        customer = Customer(
            account_no=accounts.next(rng.randint(1, 9)),
            name=name,
            uscc=_uscc(rng, area.division_code, public_institution=industry in (IND.HOSPITAL, IND.OTHER)),
            industry=industry,
            importance=importance,
            address=f"{CITY}市{area.district_place}{rng.choice(_ROADS)}{rng.randint(1, 999)}号",
            voltage_kv=Decimal(voltage),
            contracted_capacity_kva=capacity,
            basic_charge_basis=basis,
            contract_demand_kw=contract_demand,
            settlement_mode=mode,
            instalments_per_month=instalments,
            prepay_ratio=prepay_ratio,
            reading_day=reading_day,
            payment_terms_days=terms,
            government_funded=government_funded,
            usual_payment_channel=channel,
            operating_status=status,
            employees=employees,
            annual_output=annual_output,
            equipment_condition=condition,
            line_ageing=rng.random() < ageing_chance,
            region=area.region,
            account_manager=None,
            collector=None,
            penalty_rate_override=(
                Decimal(rng.choice(["0.0010", "0.0015", "0.0020", "0.0030"])) if rng.random() < 0.05 else None
            ),
            remote_control_agreement=mode == MODE.PREPAID_REMOTE,
            credit_grade="",
            opened_on=opened_on,
        )
        planned.append(_Planned(customer, area))
    return planned


# ---------------------------------------------------------------------------------------------
# Users (包保责任制: a leader per area, collectors per set of customers)
# ---------------------------------------------------------------------------------------------
@dataclass
class _Staff:
    leader_by_area: dict[int, User]  # region id → its leader
    collectors_by_area: dict[int, list[User]]  # region id → its collectors
    loads: dict[int, list[int]]  # region id → customers each of those collectors already has
    created: int


def _next_username(prefix: str, taken: set[str]) -> str:
    for n in itertools.count(1):
        username = f"{prefix}{n:02d}"
        if username not in taken:
            taken.add(username)
            return username
    raise AssertionError("unreachable")


def _users_ensure(
    *, seed: int, areas: list[_Area], new_per_area: Counter, per_collector: int = CUSTOMERS_PER_COLLECTOR
) -> _Staff:
    rng = _stream(seed, "users")
    password = make_password(DEMO_PASSWORD)  # hashed once: hashing per user would take minutes
    taken = set(User.objects.values_list("username", flat=True))
    groups = {group.name: group for group in Group.objects.filter(name__in=Role.values)}
    to_create: list[tuple[User, str | None]] = []

    def new_user(username: str, role: str | None, **extra) -> User:
        last_name, first_name = _person_name(rng)
        user = User(
            username=username,
            first_name=first_name,
            last_name=last_name,
            email=f"{username}@example.com",
            password=password,
            is_active=True,
            **extra,
        )
        taken.add(username)
        to_create.append((user, role))
        return user

    for username, role, extra in [
        ("admin", None, {"is_staff": True, "is_superuser": True}),
        ("manager", Role.MANAGER, {"is_staff": True}),
        ("system", Role.SYSTEM, {}),
    ]:
        if username not in taken:
            new_user(username, role, **extra)

    leader_by_area: dict[int, User] = {}
    for area in areas:
        if area.region.leader is None:
            area.region.leader = new_user(_next_username("leader", taken), Role.AREA_LEADER)
        leader_by_area[area.region.pk] = area.region.leader

    # Each area's collectors are those already serving its customers; more are added to keep
    # about one collector per `per_collector` customers (40 by default) and at least two per area.
    existing = list(
        Customer.objects.filter(region__in=[area.region for area in areas], collector__groups__name=Role.COLLECTOR)
        .values("region_id", "collector_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    serving: dict[int, dict[int, int]] = defaultdict(dict)
    for row in existing:
        serving[row["region_id"]][row["collector_id"]] = row["n"]
    existing_users = {user.pk: user for user in User.objects.filter(pk__in={r["collector_id"] for r in existing})}
    collectors_by_area: dict[int, list[User]] = {}
    loads: dict[int, list[int]] = {}
    for area in areas:
        region_id = area.region.pk
        current = [existing_users[pk] for pk in sorted(serving[region_id])]
        total = sum(serving[region_id].values()) + new_per_area[region_id]
        wanted = max(MIN_COLLECTORS_PER_AREA, round(total / per_collector))
        while len(current) < wanted:
            current.append(new_user(_next_username("collector", taken), Role.COLLECTOR))
        collectors_by_area[region_id] = current
        loads[region_id] = [serving[region_id].get(user.pk, 0) for user in current]

    User.objects.bulk_create([user for user, _ in to_create], batch_size=BATCH_SIZE)
    memberships = [
        User.groups.through(user_id=user.pk, group_id=groups[role].pk) for user, role in to_create if role is not None
    ]
    User.groups.through.objects.bulk_create(memberships, batch_size=BATCH_SIZE, ignore_conflicts=True)
    Region.objects.bulk_update([area.region for area in areas], ["leader"])
    system = User.objects.filter(username="system").first()
    if system is not None:
        Token.objects.get_or_create(user=system)
    return _Staff(leader_by_area, collectors_by_area, loads, created=len(to_create))


def _assign_collectors(planned: list[_Planned], staff: _Staff) -> None:
    """Each new customer goes to the least-loaded collector of its area (ties: the first listed)."""
    heaps: dict[int, list[tuple[int, int, User]]] = {}
    for region_id, collectors in staff.collectors_by_area.items():
        loads = staff.loads[region_id]
        heaps[region_id] = [(loads[i], i, user) for i, user in enumerate(collectors)]
        heapq.heapify(heaps[region_id])
    for item in planned:
        heap = heaps[item.area.region.pk]
        load, index, user = heapq.heappop(heap)
        item.customer.collector = user
        item.customer.account_manager = user
        heapq.heappush(heap, (load + 1, index, user))


# ---------------------------------------------------------------------------------------------
# Meter points, contacts, visits
# ---------------------------------------------------------------------------------------------
def _meters_plan(seed: int, planned: list[_Planned], today: date) -> list[MeterPoint]:
    rng = _stream(seed, "meters")
    numbers = _Numbers(set(MeterPoint.objects.values_list("meter_no", flat=True)), METER_NO_FIRST, METER_NO_LAST)
    meters = []
    for item in planned:
        customer = item.customer
        voltage = int(customer.voltage_kv)
        count = _weighted(rng, {1: 65, 2: 28, 3: 7} if voltage == 10 else {1: 30, 2: 50, 3: 20})
        usages = _METER_USAGES[customer.industry]
        hv_locations, lv_locations = rng.sample(_HV_METER_LOCATIONS, count), rng.sample(_LV_METER_LOCATIONS, count)
        if customer.settlement_mode == MODE.PREPAID_CARD:
            meter_type, switch = MeterPointTypeChoices.PREPAID_CARD, False
        elif customer.settlement_mode == MODE.PREPAID_REMOTE:
            meter_type, switch = MeterPointTypeChoices.REMOTE, True
        else:
            meter_type, switch = MeterPointTypeChoices.SMART, False
        for index in range(count):
            if index == 0 or rng.random() < 0.5:
                # A supply-voltage metering point: CT ratio × PT ratio; the load is shared between incomers.
                amps = customer.contracted_capacity_kva / (math.sqrt(3) * voltage) / count
                ct_secondary = 1 if voltage >= 110 else 5  # 1 A secondaries are usual at 110 kV and above
                multiplier = Decimal(_ct_primary(amps)) / ct_secondary * _PT_RATIO[voltage]
                location = hv_locations[index]
            else:
                # A low-voltage sub-meter (0.4 kV): CT only.
                multiplier = Decimal(rng.choice([40, 60, 80, 100, 120, 160, 200, 300]))
                location = lv_locations[index]
            installed_on = max(customer.opened_on, today - timedelta(days=rng.randint(30, 8 * 365)))
            meters.append(
                MeterPoint(
                    customer=customer,
                    meter_no=numbers.next(rng.randint(1, 3)),
                    location=location,
                    usage=usages[index % len(usages)],
                    meter_type=meter_type,
                    multiplier=multiplier.quantize(Decimal("0.01")),
                    installed_on=installed_on,
                    remote_switch=switch,
                    active=customer.operating_status != STATUS.CLOSED,
                )
            )
    return meters


def _contacts_plan(seed: int, planned: list[_Planned]) -> list[Contact]:
    rng = _stream(seed, "contacts")
    contacts = []
    for item in planned:
        customer = item.customer
        public = customer.industry in _PUBLIC_INDUSTRIES
        role_lists = (
            [_PUBLIC_FINANCE_ROLES, _PUBLIC_ELECTRICAL_ROLES, _PUBLIC_HEAD_ROLES]
            if public
            else [_FINANCE_ROLES, _ELECTRICAL_ROLES, _HEAD_ROLES]
        )
        used_names: set[str] = set()
        for index in range(_weighted(rng, {1: 30, 2: 45, 3: 25})):
            while True:
                surname, given = _person_name(rng)
                if surname + given not in used_names:
                    break
            used_names.add(surname + given)
            mobile = _mobile(rng) if rng.random() < 0.95 else ""
            handle = f"{_SURNAME_PINYIN[surname]}{rng.choice('abcdefghjklmnpqrstwxyz')}{rng.randint(1965, 2000)}"
            wechat = f"wx_{handle}" if rng.random() < 0.4 or not mobile else ""
            email = f"{handle}@{rng.choice(_EMAIL_DOMAINS)}" if rng.random() < 0.35 else ""
            available = {}
            if mobile:
                available.update({ContactChannelChoices.SMS: 40, ContactChannelChoices.PHONE: 20})
            if wechat:
                available[ContactChannelChoices.WECHAT] = 30
            if email:
                available[ContactChannelChoices.EMAIL] = 10
            contacts.append(
                Contact(
                    customer=customer,
                    name=surname + given,
                    role=rng.choice(role_lists[index]),
                    mobile=mobile,
                    wechat_id=wechat,
                    email=email,
                    preferred_channel=_weighted(rng, available),
                    receives_dunning=index != 1,  # the electrician is told about outages, not about money
                )
            )
    return contacts


def _visits_plan(seed: int, planned: list[_Planned], staff: _Staff | None, today: date) -> list[ServiceVisit]:
    rng = _stream(seed, "visits")
    visits = []
    for item in planned:
        customer = item.customer
        count = _weighted(rng, {0: 10, 1: 25, 2: 28, 3: 20, 4: 10, 5: 7})
        if customer.is_important:
            count += 1
        in_difficulty = customer.operating_status in (STATUS.REDUCED, STATUS.SUSPENDED)
        if in_difficulty:
            count += 1
        for _ in range(count):
            kind = _weighted(rng, _VISIT_KIND_WEIGHTS)
            if customer.is_important and rng.random() < 0.25:
                kind = VISIT.EMERGENCY_PLAN
            findings = rng.choice(_VISIT_FINDINGS[kind])
            if in_difficulty and kind == VISIT.ROUTINE and rng.random() < 0.6:
                findings = rng.choice(_DIFFICULTY_FINDINGS)
            visited_on = today - timedelta(days=rng.randint(1, 365))
            follow_up = visited_on + timedelta(days=rng.randint(7, 45)) if rng.random() < 0.3 else None
            by = customer.collector
            if staff is not None and rng.random() < 0.2:
                by = staff.leader_by_area.get(item.area.region.pk, by)
            visits.append(
                ServiceVisit(
                    customer=customer,
                    visited_on=visited_on,
                    kind=kind,
                    staff=by,
                    findings=findings,
                    follow_up_on=follow_up,
                )
            )
    return visits


# ---------------------------------------------------------------------------------------------
# The service
# ---------------------------------------------------------------------------------------------
def demo_portfolio_seed(
    *,
    customers: int,
    seed: int,
    with_users: bool = True,
    today: date | None = None,
    customers_per_collector: int = CUSTOMERS_PER_COLLECTOR,
    every_area: bool = False,
) -> DemoSeedResult:
    """Create `customers` demo customers with meters, contacts and visits (and the demo users).

    A province-size portfolio (`seed_demo --scale`) asks for `every_area` of the district pool
    (6 districts, 30 areas) when the demo tree is new, and a collector per a few hundred
    customers instead of 40, as a provincial company staffs its large-customer teams."""
    with transaction.atomic():
        result = _portfolio_write(
            customers=customers,
            seed=seed,
            with_users=with_users,
            today=today,
            per_collector=customers_per_collector,
            every_area=every_area,
        )
    if customers:
        _statistics_refresh()
    return result


def _statistics_refresh() -> None:
    """ANALYZE the tables just filled, as PostgreSQL's and SQLite's manuals advise after a bulk load.

    Without it the planner keeps estimating from the empty tables until autovacuum comes round,
    and picks plans for a hundred rows when there are ten thousand.
    """
    with connection.cursor() as cursor:
        for model in (Region, Customer, MeterPoint, Contact, ServiceVisit, User):
            cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")


def _portfolio_write(
    *, customers: int, seed: int, with_users: bool, today: date | None, per_collector: int, every_area: bool
) -> DemoSeedResult:
    today = today or timezone.localdate()
    result = DemoSeedResult()
    areas, result.regions_created = _regions_ensure(seed, every_area)
    planned = _customers_plan(seed=seed, count=customers, areas=areas, today=today)

    staff = None
    if with_users:
        staff = _users_ensure(
            seed=seed,
            areas=areas,
            new_per_area=Counter(p.area.region.pk for p in planned),
            per_collector=per_collector,
        )
        _assign_collectors(planned, staff)
        result.users_created = staff.created

    customer_rows = [item.customer for item in planned]
    Customer.objects.bulk_create(customer_rows, batch_size=BATCH_SIZE)  # sets the ids the rows below need
    meters = _meters_plan(seed, planned, today)
    MeterPoint.objects.bulk_create(meters, batch_size=BATCH_SIZE)
    contacts = _contacts_plan(seed, planned)
    Contact.objects.bulk_create(contacts, batch_size=BATCH_SIZE)
    visits = _visits_plan(seed, planned, staff, today)
    ServiceVisit.objects.bulk_create(visits, batch_size=BATCH_SIZE)

    result.customers = len(customer_rows)
    result.important = sum(1 for c in customer_rows if c.is_important)
    result.meter_points = len(meters)
    result.contacts = len(contacts)
    result.service_visits = len(visits)
    result.industries = Counter(c.industry for c in customer_rows)
    result.settlement_modes = Counter(c.settlement_mode for c in customer_rows)
    return result


def demo_logins() -> list[DemoLogin]:
    """The demo accounts in the database and what each may see (for the command's login table)."""
    logins: list[DemoLogin] = []
    fixed = {user.username: user for user in User.objects.filter(username__in=["admin", "manager", "system"])}
    if "admin" in fixed and fixed["admin"].is_superuser:
        logins.append(DemoLogin("admin", "superuser", "Django admin, configuration"))
    if "manager" in fixed:
        logins.append(DemoLogin("manager", Role.MANAGER, "everything; approves important-user actions"))
    if "system" in fixed:
        token = Token.objects.filter(user=fixed["system"]).values_list("key", flat=True).first()
        logins.append(DemoLogin("system", Role.SYSTEM, f"REST API, Authorization: Token {token or '(none)'}"))
    counts = Counter(
        {row["region_id"]: row["n"] for row in Customer.objects.values("region_id").annotate(n=Count("id")).order_by()}
    )
    for region in Region.objects.filter(leader__username__startswith="leader").select_related("leader"):
        scope = f"area {region.name} ({region.code}), {counts[region.pk]} customers"
        logins.append(DemoLogin(region.leader.username, Role.AREA_LEADER, scope))
    rows = (
        Customer.objects.filter(collector__username__startswith="collector")
        .values("collector__username", "region__name", "region__code")
        .annotate(n=Count("id"))
        .order_by("collector__username", "region__code")
    )
    for row in rows:
        scope = f"{row['n']} customers in {row['region__name']} ({row['region__code']})"
        logins.append(DemoLogin(row["collector__username"], Role.COLLECTOR, scope))
    return logins
