"""Chinese and English labels for every enumerated value the API speaks (DOMAIN.md's terms).

Keyed by enum name, then by the value as the API sends it; each value has (zh-CN, en).
The code keeps its own enums (services' Literal types, shared.principals.Role, shared.stats
figures...); tests/shared/test_labels.py walks those real enums and fails when one gains a
value without both labels here, or when an enum appears that has no table.

Populations are an operator-extensible list kept by the cases service (GET /v1/populations,
with labels an operator adds); the table here holds the codes its migration seeds.
Funding sources are an open list too; the table holds the usual ones.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Literal

Lang = Literal["zh-CN", "en"]
LANGS: tuple[Lang, ...] = ("zh-CN", "en")

_TABLES: dict[str, dict[str, tuple[str, str]]] = {
    "population": {
        "elderly": ("老年人", "Older people"),
        "elderly_empty_nest": ("空巢老人", "Empty-nest elders"),
        "elderly_alone": ("独居老人", "Elders living alone"),
        "elderly_disabled": ("失能老人", "Disabled elders"),
        "children": ("儿童", "Children"),
        "child_in_difficulty": ("困境儿童", "Children in difficulty"),
        "child_left_behind": ("留守儿童", "Left-behind children"),
        "orphan": ("孤儿", "Orphans"),
        "child_unsupported": ("事实无人抚养儿童", "De-facto unsupported children"),
        "youth": ("青少年", "Youth"),
        "disabled": ("残疾人", "People with disabilities"),
        "disabled_severe": ("重度残疾人", "People with severe disabilities"),
        "dibao": ("低保对象", "Minimum living allowance (dibao) recipients"),
        "dibian": ("低保边缘对象", "Near-dibao (dibian) households"),
        "tekun": ("特困人员", "Persons in extreme poverty (tekun)"),
        "hardship_spending": ("支出型困难家庭", "Spending-type hardship families"),
        "women_family": ("妇女家庭", "Women and families"),
        "women_left_behind": ("留守妇女", "Left-behind women"),
        "other": ("其他", "Other"),
    },
    # The three methods of social work; their person-times are person_times.<method>.
    "method": {
        "casework": ("个案工作", "Casework"),
        "group": ("小组工作", "Group work"),
        "community": ("社区工作", "Community work"),
        "visit": ("探访", "Visits"),
    },
    # Every figure of the dashboards (shared.stats.FIGURES, SYSTEM_FIGURES) and of project targets (TARGET_METRICS).
    "figure": {
        "person_times": ("服务人次", "Person-times"),
        "persons": ("服务人数", "Persons served"),
        "person_times.casework": ("个案服务人次", "Casework person-times"),
        "person_times.group": ("小组活动人次", "Group work person-times"),
        "person_times.community": ("社区活动人次", "Community activity person-times"),
        "person_times.visit": ("探访人次", "Visit person-times"),
        "roster.members": ("名册在册人数", "People on rosters"),
        "roster.visited": ("已探访人数", "People on rosters visited"),
        "roster.overdue": ("逾期未探访人数", "People overdue a visit"),
        "cases.new": ("新开个案", "New cases"),
        "cases.closed": ("结案", "Closed cases"),
        "cases.reopened": ("重开个案", "Reopened cases"),
        "cases.open": ("在案个案", "Open cases"),
        "cases.full": ("完整个案", "Full cases"),
        "beneficiaries.registered": ("建档服务对象", "Registered beneficiaries"),
        "cases.beneficiaries": ("个案服务对象人数", "People with a case"),
        "groups": ("小组", "Groups"),
        "group_sessions": ("小组节数", "Group sessions"),
        "activities": ("社区活动场次", "Community activities"),
        "resources.linked_yuan": ("链接资源（元）", "Resources linked (yuan)"),
        "volunteers.registered": ("注册志愿者", "Registered volunteers"),
        "volunteers.active": ("参与服务的志愿者", "Active volunteers"),
        "volunteer.hours": ("志愿服务时长（小时）", "Volunteer hours"),
        "volunteer.person_times": ("志愿服务人次", "Volunteer person-times"),
        "stations.total": ("站点总数", "Stations"),
        "stations.province": ("省级站点", "Province stations"),
        "stations.city": ("市级社工支持中心", "City support centres"),
        "stations.county": ("县级社工总站", "County stations"),
        "stations.township": ("镇街社工服务站", "Township/street stations"),
        "stations.village": ("村(社区)社工服务室", "Village/community rooms"),
        "stations.started": ("新建站点", "Stations started"),
        "stations.active": ("开展服务的站点", "Active stations"),
        "projects.active": ("在执行项目", "Active projects"),
        "projects.started": ("新启动项目", "Projects started"),
        "projects.closed": ("结项项目", "Projects closed"),
        "projects.budget_yuan": ("在执行项目预算（元）", "Budget of active projects (yuan)"),
        "staff.social_workers": ("社工", "Social workers"),
        "staff.station_heads": ("站长", "Station heads"),
        "staff.supervisors": ("督导", "Supervisors"),
        "staff.active_workers": ("开展服务的工作人员", "Staff who served"),
        "supervision.sessions": ("督导次数", "Supervision sessions"),
        "supervision.hours": ("督导时长（小时）", "Supervision hours"),
        "supervision.cases_reviewed": ("督导研讨个案（例次）", "Cases reviewed in supervision"),
    },
    # How each figure is counted, in a sentence for the reader of a dashboard or report (docs/counting.md
    # has the whole rule): every figure of shared.stats.FIGURES and SYSTEM_FIGURES and of the project targets.
    "figure_rule": {
        "person_times": ("个案、小组、社区活动、探访人次之和", "Casework, group, community and visit person-times added up"),
        "persons": ("个案、小组、社区活动、探访中具名服务的人，每人只计一次；匿名人数不计；按服务时所属人群分列",
                    "Named people served by casework, groups, activities and visits, each once; anonymous "
                    "headcounts not included; by the populations they had when served"),
        "person_times.casework": ("服务记录的人次之和，记在服务日期；按记录时服务对象所属人群分列",
                                  "Person-times of the service records, on their service date; by the client's "
                                  "populations when the record was made"),
        "person_times.group": ("各节具名签到人数加匿名人数，记在举办日期；具名者按签到时所属人群分列，匿名人数不分人群",
                               "Named attendees plus the anonymous headcount of each session, on its date; named "
                               "ones by their populations at sign-in, headcounts under everyone only"),
        "person_times.community": ("各场活动具名参与人数加匿名人数，记在举办日期；具名者按签到时所属人群分列，匿名人数不分人群",
                                   "Named participants plus the anonymous headcount of each activity, on its date; "
                                   "named ones by their populations at sign-in, headcounts under everyone only"),
        "person_times.visit": ("每次探访计1人次，记在探访日期；按探访时服务对象所属人群分列",
                               "One person-time per visit, on its date; by the person's populations when visited"),
        "roster.members": ("期末在名册上的人，每人计一次；按名册人群分列",
                           "People on a roster at the end of the period, each once; by the roster's population"),
        "roster.visited": ("期末在册的人中，期间内至少探访一次的人数；覆盖率 = 已探访 / 在册",
                           "Of the people on a roster at the end of the period, those visited at least once in it; "
                           "coverage = visited / on rosters"),
        "roster.overdue": ("期末已超过探访规则期限未探访的在册人数",
                           "People on a roster overdue a visit under its visit rule at the end of the period"),
        "cases.new": ("期间内开案的个案；按开案时服务对象所属人群分列",
                      "Cases opened in the period; by the client's populations at opening"),
        "cases.closed": ("期间内从在案状态结案的个案（结束跟进不算）；按开案时所属人群分列",
                         "Cases closed from an open step in the period (ending a follow-up is not a closure); by "
                         "the populations at opening"),
        "cases.reopened": ("期间内重开的个案；按开案时所属人群分列",
                           "Cases reopened in the period; by the populations at opening"),
        "cases.open": ("期末在案的个案（接案至评估，结案和跟进中的不算）；按开案时所属人群分列",
                       "Cases open at the end of the period (intake to evaluation; closed and in follow-up not); "
                       "by the populations at opening"),
        "beneficiaries.registered": ("期间内建档且未删除的服务对象；按当前所属人群分列",
                                     "Beneficiaries registered in the period and not deleted; by their current "
                                     "populations"),
        "groups": ("期间内开始的小组；按小组目标人群分列",
                   "Groups that started in the period; by the group's target population"),
        "group_sessions": ("期间内举办的小组节数；按小组目标人群分列",
                           "Group sessions held in the period; by the group's target population"),
        "activities": ("期间内举办的社区活动场次；不分人群", "Community activities held in the period; no population split"),
        "resources.linked_yuan": ("服务记录与社区活动中链接的资源金额；只有个案部分按服务对象人群分列",
                                  "Yuan linked in service records and at activities; only the casework part is split "
                                  "by the client's populations"),
        "volunteers.registered": ("期间内注册且未删除的志愿者；不分人群",
                                  "Volunteers registered in the period and not deleted; no population split"),
        "volunteers.active": ("期间内有计入的服务时长的志愿者，每人只计一次；不分人群",
                              "Volunteers with counted hours in the period, each once; no population split"),
        "volunteer.hours": ("计入的服务时长（有异议的不计），跨午夜的班次按实际日期分开计；不分人群",
                            "Counted hours of service (disputed ones not), a shift past midnight split over its "
                            "days; no population split"),
        "volunteer.person_times": ("每个班次计 1 人次（跨午夜的也是 1 次），记在开始当天；有异议的不计；不分人群",
                                   "Each shift is 1 person-time (one past midnight too), on the day it starts; "
                                   "disputed ones not; no population split"),
        "stations.total": ("期末在站点体系中的站点（含本站），按当前的上下级关系",
                           "Stations in the tree at the end of the period (this one included), under their "
                           "current parents"),
        "stations.province": ("期末的省级站点", "Province stations at the end of the period"),
        "stations.city": ("期末的市级社工支持中心", "City support centres at the end of the period"),
        "stations.county": ("期末的县级社工总站", "County stations at the end of the period"),
        "stations.township": ("期末的镇街社工服务站", "Township/street stations at the end of the period"),
        "stations.village": ("期末的村(社区)社工服务室", "Village/community rooms at the end of the period"),
        "stations.started": ("期间内建立、期末仍在的站点", "Stations set up in the period and still there at its end"),
        "stations.active": ("期间内有服务记录、小组节次或社区活动的站点，每站只计一次",
                            "Stations with a service record, a group session or an activity in the period, each "
                            "once"),
        "projects.active": ("已启动、合同周期与期间有重叠的项目（计划中的不算）",
                            "Started projects whose contract period overlaps the period (planned ones not)"),
        "projects.started": ("已启动、合同周期在期间内开始的项目", "Started projects whose contract period begins in "
                                                                 "the period"),
        "projects.closed": ("已结项、合同周期在期间内结束的项目", "Closed projects whose contract period ends in "
                                                               "the period"),
        "projects.budget_yuan": ("在执行项目的合同预算之和；按资金来源分列",
                                 "The contract budgets of the active projects added up; by funding source"),
        "staff.social_workers": ("期末启用的社工账号", "Social workers' accounts enabled at the end of the period"),
        "staff.station_heads": ("期末启用的站长账号", "Station heads' accounts enabled at the end of the period"),
        "staff.supervisors": ("期末启用的督导账号", "Supervisors' accounts enabled at the end of the period"),
        "staff.active_workers": ("期间内记录过服务（服务记录、小组节次、社区活动）的账号，每人只计一次；只计人数",
                                 "Accounts that recorded a service record, a group session or an activity in the "
                                 "period, each once; a count, never names"),
        "supervision.sessions": ("期间内举办的督导（个别、小组、现场、线上），记在督导日期；不分人群",
                                 "Supervision sessions held in the period (individual, group, on site, online), on "
                                 "their date; no population split"),
        "supervision.hours": ("督导记录的时长之和（小时），记在督导日期；不分人群",
                              "Hours of the supervision sessions, on their date; no population split"),
        "supervision.cases_reviewed": ("各次督导研讨的个案数之和，同一个案在两次督导中研讨计 2；不分人群",
                                       "Cases discussed in each supervision session, added up (a case discussed in "
                                       "two sessions counts twice); no population split"),
        "cases.full": ("项目目标：项目周期内至少有 N 条服务记录的个案数",
                       "Project target: cases of the project with at least N service records in its period"),
        "cases.beneficiaries": ("项目目标：项目周期内有在案个案的不同服务对象人数（不是建档人数）",
                                "Project target: distinct people with a case of the project open in its period (not "
                                "registrations)"),
    },
    # Conditions a contract target may set (shared.stats.TARGET_METRICS): "groups >= 3, each >= 4 sessions".
    "target_condition": {
        "min_sessions": ("最少节数", "Minimum sessions"),
        "min_members": ("最少成员数", "Minimum members"),
        "min_participants": ("最少参与人数", "Minimum participants"),
    },
    "case_status": {
        "intake": ("接案", "Intake"),
        "assessment": ("预估", "Assessment"),
        "planning": ("计划", "Planning"),
        "intervention": ("介入", "Intervention"),
        "evaluation": ("评估", "Evaluation"),
        "closed": ("结案", "Closed"),
        "follow_up": ("跟进", "Follow-up"),
    },
    "close_reason": {
        "completed": ("服务目标达成", "Completed"),
        "referred": ("转介", "Referred"),
        "client_withdrew": ("服务对象退出", "Client withdrew"),
        "unreachable": ("无法联系", "Unreachable"),
        "other": ("其他", "Other"),
    },
    "risk_level": {
        "low": ("低", "Low"),
        "medium": ("中", "Medium"),
        "high": ("高", "High"),
        "critical": ("危急", "Critical"),
    },
    "contact_mode": {
        "home_visit": ("入户探访", "Home visit"),
        "phone": ("电话", "Phone"),
        "office": ("站内面谈", "At the office"),
        "online": ("线上", "Online"),
        "outreach": ("外展", "Outreach"),
    },
    # The casework steps an approval rule may hold (services/cases/schemas/approvals.py).
    "approval_step": {
        "assess": ("预估", "Assessment"),
        "plan": ("服务计划", "Service plan"),
        "intervene": ("介入", "Intervention"),
        "evaluate": ("评估", "Evaluation"),
        "close": ("结案", "Closure"),
    },
    "approval_status": {
        "pending": ("待审批", "Awaiting approval"),
        "approved": ("已批准", "Approved"),
        "returned": ("已退回", "Returned"),
    },
    # A person's transfer to another station (services/cases/schemas/transfers.py).
    "transfer_status": {
        "pending": ("待接收", "Awaiting the receiving station"),
        "accepted": ("已转入", "Accepted"),
        "declined": ("已拒绝", "Declined"),
        "withdrawn": ("已撤回", "Withdrawn"),
    },
    "transfer_direction": {
        "incoming": ("转入", "Incoming"),
        "outgoing": ("转出", "Outgoing"),
    },
    "supervision_mode": {
        "individual": ("个别督导", "Individual"),
        "group": ("小组督导", "Group"),
        "on_site": ("现场督导", "On site"),
        "online": ("线上督导", "Online"),
    },
    # How a beneficiary came to be registered.
    "beneficiary_source": {
        "direct": ("社工建档", "Registered by a worker"),
        "roster": ("名册导入", "From a roster"),
    },
    # What a roster import does with a row (docs/rosters.md).
    "roster_row_action": {
        "register": ("新建档", "Register"),
        "add": ("列入名册", "Add to the roster"),
        "update": ("更新", "Update"),
        "unchanged": ("无变化", "Unchanged"),
    },
    # Visits (探访): how the person was seen, and the situation found.
    "visit_mode": {
        "home_visit": ("入户探访", "Home visit"),
        "phone": ("电话探访", "Phone call"),
        "video": ("视频探访", "Video call"),
    },
    "visit_health": {
        "good": ("良好", "Good"),
        "fair": ("一般", "Fair"),
        "poor": ("较差", "Poor"),
        "critical": ("危重", "Critical"),
    },
    "visit_safety": {
        "safe": ("安全", "Safe"),
        "at_risk": ("存在隐患", "At risk"),
        "unsafe": ("不安全", "Unsafe"),
    },
    "visit_living": {
        "adequate": ("良好", "Adequate"),
        "basic": ("基本保障", "Basic"),
        "inadequate": ("困难", "Inadequate"),
    },
    "visit_need": {
        "daily_care": ("生活照料", "Daily care"),
        "meals": ("助餐", "Meals"),
        "medical": ("医疗康复", "Medical care"),
        "financial": ("经济救助", "Financial help"),
        "housing": ("住房安全", "Housing"),
        "psychological": ("精神慰藉", "Emotional support"),
        "legal": ("法律援助", "Legal aid"),
        "education": ("教育", "Education"),
        "other": ("其他", "Other"),
    },
    # The "six services" Sichuan stations report against.
    "service_type": {
        "needs_assessment": ("需求评估", "Needs assessment"),
        "resource_linking": ("资源链接", "Resource linking"),
        "social_assistance": ("社会救助", "Social assistance"),
        "elder_child_care": ("老幼关爱", "Care for elders and children"),
        "community_governance": ("社区治理", "Community governance"),
        "livelihood_development": ("产业发展", "Livelihood development"),
    },
    "goal_status": {
        "open": ("未开始", "Open"),
        "in_progress": ("进行中", "In progress"),
        "achieved": ("已达成", "Achieved"),
        "not_achieved": ("未达成", "Not achieved"),
        "dropped": ("已放弃", "Dropped"),
    },
    "plan_status": {
        "active": ("执行中", "Active"),
        "completed": ("已完成", "Completed"),
        "superseded": ("已被替代", "Superseded"),
    },
    "referral_status": {
        "pending": ("待回复", "Pending"),
        "accepted": ("已接收", "Accepted"),
        "rejected": ("已拒绝", "Rejected"),
        "completed": ("已完成", "Completed"),
    },
    # What falls due on a worker's caseload.
    "due_kind": {
        "follow_up": ("跟进", "Follow-up"),
        "plan_review": ("计划检视", "Plan review"),
        "goal": ("目标", "Goal"),
    },
    "gender": {
        "male": ("男", "Male"),
        "female": ("女", "Female"),
        "other": ("其他", "Other"),
        "unknown": ("未知", "Unknown"),
    },
    "self_care": {
        "full": ("全自理", "Fully self-caring"),
        "partial": ("半自理", "Partly self-caring"),
        "none": ("失能", "Not self-caring"),
    },
    # The seven categories of the national disability certificate.
    "disability_type": {
        "visual": ("视力残疾", "Visual"),
        "hearing": ("听力残疾", "Hearing"),
        "speech": ("言语残疾", "Speech"),
        "physical": ("肢体残疾", "Physical"),
        "intellectual": ("智力残疾", "Intellectual"),
        "mental": ("精神残疾", "Mental"),
        "multiple": ("多重残疾", "Multiple"),
    },
    "need_level": {
        "low": ("低", "Low"),
        "medium": ("中", "Medium"),
        "high": ("高", "High"),
        "urgent": ("紧急", "Urgent"),
    },
    "consent_kind": {
        "service": ("服务知情同意", "Consent to services"),
        "data_processing": ("个人信息处理同意", "Consent to data processing"),
        "guardian": ("监护人同意", "Guardian's consent"),
        "information_sharing": ("信息共享同意", "Consent to information sharing"),
        "photo": ("影像使用同意", "Consent to photos"),
        "referral": ("转介同意", "Consent to referral"),
        "other": ("其他", "Other"),
    },
    # Stages of group work (MZ/T 095-2017).
    "group_stage": {
        "preparation": ("准备期", "Preparation"),
        "forming": ("形成期", "Forming"),
        "transition": ("转折期", "Transition"),
        "maturity": ("成熟期", "Maturity"),
        "ending": ("结束期", "Ending"),
    },
    "project_status": {
        "planned": ("未启动", "Planned"),
        "running": ("执行中", "Running"),
        "evaluating": ("考核评估中", "Being evaluated"),
        "closed": ("已结项", "Closed"),
    },
    "evaluation_grade": {
        "excellent": ("优秀", "Excellent"),
        "good": ("良好", "Good"),
        "pass": ("合格", "Pass"),
        "fail": ("不合格", "Fail"),
    },
    "funding_source": {
        "civil_affairs": ("民政", "Civil affairs"),
        "womens_federation": ("妇联", "Women's federation"),
        "youth_league": ("团委", "Youth league"),
        "disabled_federation": ("残联", "Disabled persons' federation"),
        "charity": ("慈善组织", "Charity"),
        "foundation": ("基金会", "Foundation"),
        "other": ("其他", "Other"),
    },
    "role": {
        "admin": ("系统管理员", "Administrator"),
        "official": ("主管部门人员", "Official"),
        "station_head": ("站长", "Station head"),
        "social_worker": ("社工", "Social worker"),
        "supervisor": ("督导", "Supervisor"),
        "volunteer": ("志愿者", "Volunteer"),
        "service": ("系统服务", "System service"),
    },
    "station_kind": {
        "province": ("省级社工指导中心", "Province"),
        "city": ("市级社工支持中心", "City support centre"),
        "county": ("县级社工总站", "County station"),
        "township": ("镇街社工服务站", "Township/street station"),
        "village": ("村(社区)社工服务室", "Village/community room"),
    },
    "id_type": {
        "mainland_id": ("居民身份证", "Resident identity card"),
        "passport": ("护照", "Passport"),
        "hk_macau_permit": ("港澳居民来往内地通行证", "Mainland travel permit for Hong Kong and Macao residents"),
        "taiwan_permit": ("台湾居民来往大陆通行证", "Mainland travel permit for Taiwan residents"),
        "other": ("其他", "Other"),
    },
    "volunteer_status": {
        "active": ("在册", "Active"),
        "paused": ("暂停", "Paused"),
        "left": ("已退出", "Left"),
    },
    "volunteer_entry_kind": {
        "training": ("培训", "Training"),
        "award": ("表彰奖励", "Award"),
        "evaluation": ("评价", "Evaluation"),
    },
    "hours_status": {
        "recorded": ("已记录", "Recorded"),
        "confirmed": ("已确认", "Confirmed"),
        "disputed": ("有异议", "Disputed"),
        "corrected": ("已更正", "Corrected"),
    },
    # What a file on a record is (shared/attachments; each service takes some of them).
    "attachment_purpose": {
        "consent_form": ("知情同意书", "Consent form"),
        "photo": ("照片", "Photo"),
        "identity_document": ("身份证明", "Identity document"),
        "assessment": ("评估表", "Assessment"),
        "service_plan": ("服务计划", "Service plan"),
        "service_record": ("服务记录", "Service record"),
        "closure_report": ("结案报告", "Closure report"),
        "sign_in_sheet": ("签到表", "Sign-in sheet"),
        "evaluation_report": ("评估报告", "Evaluation report"),
        "proof": ("服务证明", "Proof of service"),
        "other": ("其他", "Other"),
    },
    "file_kind": {
        "jpeg": ("JPEG 图片", "JPEG image"),
        "png": ("PNG 图片", "PNG image"),
        "heic": ("HEIC 图片（苹果手机）", "HEIC image (iPhone)"),
        "pdf": ("PDF 文档", "PDF document"),
    },
    "hours_activity_kind": {
        "community_activity": ("社区活动", "Community activity"),
        "group_session": ("小组活动", "Group session"),
        "free_text": ("其他服务", "Other service"),
    },
    # The languages labels and messages come in.
    "lang": {
        "zh-CN": ("简体中文", "Simplified Chinese"),
        "en": ("英文", "English"),
    },
    "interval": {
        "day": ("日", "Day"),
        "week": ("周", "Week"),
        "month": ("月", "Month"),
        "quarter": ("季度", "Quarter"),
        "year": ("年", "Year"),
    },
}

TABLES = MappingProxyType({name: MappingProxyType(values) for name, values in _TABLES.items()})


def labels(lang: Lang) -> dict[str, dict[str, str]]:
    """Every table in one language: {enum: {value: label}}, values in the code's order."""
    i = LANGS.index(lang)
    return {name: {value: pair[i] for value, pair in values.items()} for name, values in TABLES.items()}


def label(enum: str, value: str | None, lang: Lang) -> str:
    """One value's label; a value without one (an operator's new population code) shows as itself."""
    if value is None:
        return ""
    pair = TABLES.get(enum, {}).get(value)
    return pair[LANGS.index(lang)] if pair else value
