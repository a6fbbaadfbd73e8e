"""The demo province's places and the words its records use. Place names and county codes are
real Sichuan divisions; township and village codes are made up in the official shape (9 and 12
digits). Every person in the demo is invented."""

from __future__ import annotations

# city (name, code) -> county (name, code, pinyin) -> township (name, pinyin) -> villages
TREE: list[tuple[str, str, list[tuple[str, str, str, list[tuple[str, str, list[str]]]]]]] = [
    ("成都市", "510100", [
        ("成华区", "510108", "chenghua", [
            ("猛追湾街道", "mengzhuiwan", ["和平社区", "望平社区", "香木林社区"]),
            ("双桥子街道", "shuangqiaozi", ["双桥子社区", "水碾河社区", "沙河社区"]),
            ("府青路街道", "fuqinglu", ["府青社区", "建设路社区", "八里庄社区"]),
        ]),
        ("武侯区", "510107", "wuhou", [
            ("玉林街道", "yulin", ["玉林北路社区", "芳草社区", "倪家桥社区"]),
            ("浆洗街街道", "jiangxijie", ["浆洗街社区", "洗面桥社区", "锦里社区"]),
            ("簇桥街道", "cuqiao", ["簇桥社区", "七里社区", "高碑社区"]),
        ]),
        ("郫都区", "510117", "pidu", [
            ("唐昌街道", "tangchang", ["战旗村", "金星村", "西北街社区"]),
            ("安德街道", "ande", ["安龙村", "广福村", "红专村"]),
            ("三道堰镇", "sandaoyan", ["青杠树村", "秦家庙村", "云凌村"]),
        ]),
    ]),
    ("绵阳市", "510700", [
        ("涪城区", "510703", "fucheng", [
            ("城厢街道", "chengxiang", ["东街社区", "西街社区", "北街社区"]),
            ("吴家镇", "wujia", ["伍家村", "吴家村", "宝珠村"]),
            ("石塘街道", "shitang", ["石塘社区", "高家村", "联合村"]),
        ]),
        ("游仙区", "510704", "youxian", [
            ("小枧沟镇", "xiaojiangou", ["长兴村", "光明村", "东林村"]),
            ("魏城镇", "weicheng", ["魏城社区", "双龙村", "板桥村"]),
            ("沉抗镇", "chenkang", ["沉抗社区", "青龙村", "新华村"]),
        ]),
    ]),
    ("乐山市", "511100", [
        ("市中区", "511102", "shizhong", [
            ("张公桥街道", "zhanggongqiao", ["张公桥社区", "土桥街社区", "迎春社区"]),
            ("通江街道", "tongjiang", ["通江社区", "碧山路社区", "徐家扁社区"]),
            ("牟子镇", "muzi", ["牟子社区", "关帝村", "石龙村"]),
        ]),
        ("峨眉山市", "511181", "emeishan", [
            ("绥山镇", "suishan", ["新桥社区", "东岳社区", "名山村"]),
            ("符溪镇", "fuxi", ["符溪社区", "三河村", "金光村"]),
            ("黄湾镇", "huangwan", ["黄湾村", "报国村", "华严村"]),
        ]),
    ]),
]

OPERATORS = {"成都市": "成都市好邻社会工作服务中心", "绵阳市": "绵阳市阳光社会工作服务中心",
             "乐山市": "乐山市心桥社会工作服务中心"}

SURNAMES = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏"
            "魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛段雷侯龙史陶黎贺顾毛郝龚邵万")
GIVEN = {
    ("female", "old"): ["秀英", "桂英", "淑珍", "玉兰", "秀兰", "桂兰", "凤英", "玉珍", "素芳", "翠花", "玉梅", "德芳"],
    ("male", "old"): ["建国", "德明", "国强", "志明", "长富", "福全", "树林", "永福", "玉成", "国华", "学文", "光明"],
    ("female", "mid"): ["丽", "芳", "敏", "静", "艳", "娟", "霞", "丽华", "晓燕", "春梅", "海燕", "红梅"],
    ("male", "mid"): ["伟", "强", "磊", "军", "勇", "杰", "涛", "斌", "建华", "志刚", "海波", "明亮"],
    ("female", "young"): "欣怡 梓涵 雨桐 诗涵 可馨 子萱 一诺 思琪 佳怡 语嫣 若曦 梦瑶".split(),
    ("male", "young"): "浩然 子轩 宇航 俊杰 梓豪 一鸣 博文 子墨 睿泽 皓轩 明哲 天佑".split(),
}

# (populations, age range, gender or None, extra profile fields)
PROFILES: list[tuple[list[str], tuple[int, int], str | None, dict]] = [
    (["elderly", "elderly_empty_nest"], (66, 84), None, {"self_care": "full", "need_level": "medium"}),
    (["elderly", "elderly_alone"], (70, 90), None, {"self_care": "partial", "need_level": "high"}),
    (["elderly", "elderly_disabled", "disabled"], (75, 92), None,
     {"self_care": "none", "disability_type": "physical", "disability_grade": 2, "need_level": "urgent"}),
    (["children", "child_left_behind"], (6, 13), None, {"need_level": "medium"}),
    (["children", "child_in_difficulty"], (5, 13), None, {"need_level": "high"}),
    (["children", "orphan"], (4, 13), None, {"need_level": "high"}),
    (["children", "child_unsupported"], (3, 12), None, {"need_level": "high"}),
    (["youth"], (14, 19), None, {"need_level": "low"}),
    (["disabled"], (30, 60), None, {"disability_type": "hearing", "disability_grade": 3, "self_care": "full"}),
    (["disabled", "disabled_severe"], (25, 60), None,
     {"disability_type": "intellectual", "disability_grade": 1, "self_care": "partial", "need_level": "high"}),
    (["dibao"], (40, 70), None, {"need_level": "medium"}),
    (["dibian", "hardship_spending"], (38, 65), None, {"need_level": "medium"}),
    (["tekun", "elderly"], (65, 85), None, {"self_care": "partial", "need_level": "high"}),
    (["women_family"], (30, 50), "female", {"need_level": "low"}),
    (["women_family", "women_left_behind"], (28, 45), "female", {"need_level": "medium"}),
    (["elderly"], (62, 80), None, {"self_care": "full", "need_level": "low"}),
    (["other"], (20, 60), None, {"need_level": "low"}),
]

CASE_TITLES = {
    "elderly": ["独居老人居家安全", "空巢老人情绪支持", "失能老人照护资源链接", "老人就医陪护协调"],
    "children": ["留守儿童学业辅导", "困境儿童监护支持", "儿童情绪与行为问题", "事实无人抚养儿童生活保障"],
    "youth": ["青少年厌学与亲子沟通", "青少年网络沉迷"],
    "disabled": ["残疾人康复与就业支持", "重度残疾人居家照护"],
    "dibao": ["低保家庭救助申请", "困难家庭临时救助"],
    "women_family": ["家庭关系调适", "留守妇女就业增收"],
    "other": ["邻里纠纷调解", "外来务工人员社会融入"],
}
SERVICE_CONTENT = ["入户探访，了解近况并评估居家安全", "电话回访，跟进服务计划执行情况", "陪同就医并协助办理报销",
                   "链接社区志愿者提供助餐服务", "协助申请临时救助", "开展心理疏导，缓解焦虑情绪",
                   "与家属沟通照护安排", "协助办理残疾人两项补贴", "学业辅导并与学校老师沟通"]
AGENCIES = ["区残疾人联合会", "街道社区卫生服务中心", "区未成年人保护工作站", "区法律援助中心"]

GROUPS = [
    ("elderly", "长者防诈骗小组", "education"),
    ("children", "留守儿童自信心提升小组", "growth"),
    ("youth", "青少年礼仪成长小组", "growth"),
    ("disabled", "残疾人康复互助小组", "support"),
    ("women_family", "妇女手工编织小组", "mutual_aid"),
    ("elderly", "独居老人互助小组", "mutual_aid"),
]
SESSION_TOPICS = ["相识与破冰", "建立小组规范", "经验分享", "技能学习", "角色扮演练习", "互助行动", "成果展示",
                  "回顾与告别"]
# (title, kind, when): a festival on its day of the Chinese calendar (plan.LUNAR_FESTIVALS), the
# summer holiday in July or August, anything else on any day of the year.
ACTIVITIES = [
    ("重阳节敬老活动", "festival", "double_ninth"), ("社区义诊", "health_check", None),
    ("防诈骗宣传讲座", "lecture", None), ("垃圾分类宣传", "clean_up", None),
    ("中秋邻里游园会", "festival", "mid_autumn"), ("儿童暑期托管", "childcare", "summer"),
    ("健康知识讲座", "lecture", None), ("环境卫生大扫除", "clean_up", None), ("老年人智能手机培训", "lecture", None),
]
VOLUNTEER_SKILLS = ["助老服务", "文艺表演", "医疗护理", "心理疏导", "法律咨询", "儿童陪伴", "摄影宣传"]
HOURS_CONTENT = ["助老送餐", "陪伴独居老人", "协助社区义诊", "儿童课业辅导", "活动现场秩序维护", "防诈骗宣传入户"]
