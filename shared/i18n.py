"""The language of a response (Accept-Language), and Chinese for the API's error messages.

Error messages are written in English where they are raised; this module holds their
Chinese, keyed by the English text (as gettext keys by msgid), plus patterns for the
messages that carry a value. A message without a Chinese entry stays in English, while
its problem's `title` is always translated. Field names and codes are never translated:
clients match on them.

Without an Accept-Language the API answers in English, as before; `zh` in any form
(zh, zh-CN, zh-Hans, zh-TW...) gets Simplified Chinese, the only Chinese there is.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from shared.labels import Lang, label

ENGLISH: Lang = "en"
CHINESE: Lang = "zh-CN"


def preferred_languages(header: str) -> list[tuple[str, float]]:
    """Accept-Language (RFC 9110 12.5.4) as (lowercased tag, q), best first; equal q keep their order.
    A malformed or out-of-range q counts as 0 (not acceptable)."""
    found = []
    for index, part in enumerate(header.split(",")):
        tag, _, params = part.partition(";")
        tag = tag.strip().lower()
        if not tag:
            continue
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value.strip())
                except ValueError:
                    q = 0.0
                if not 0.0 <= q <= 1.0 or q != q:  # out of range or NaN
                    q = 0.0
        found.append((-q, index, tag))
    return [(tag, -neg_q) for neg_q, _, tag in sorted(found)]


def _supported(tag: str) -> Lang | None:
    primary = tag.split("-", 1)[0]
    return CHINESE if primary == "zh" else ENGLISH if primary == "en" else None


@lru_cache(maxsize=512)
def negotiate(header: str | None, default: Lang = ENGLISH) -> Lang:
    """The supported language the client rates highest; `default` when it accepts none of them.

    A language's q is the highest q of the tags with its primary subtag (zh, zh-CN, zh-TW all
    rate zh-CN); `*` rates those the header does not name. Equal ratings go to the one named
    first, and `*` alone to `default`. q=0 refuses."""
    if not header:
        return default
    rated: dict[Lang, tuple[float, int]] = {}
    star = None
    for position, (tag, q) in enumerate(preferred_languages(header)):
        if tag == "*":
            star = q if star is None else max(star, q)
            continue
        lang = _supported(tag)
        if lang is not None and (lang not in rated or q > rated[lang][0]):
            rated[lang] = (q, position)
    best, best_rating = default, (0.0, 0)
    for i, lang in enumerate((default, CHINESE if default == ENGLISH else ENGLISH)):
        q, position = rated.get(lang, (star if star is not None else 0.0, 1000 + i))
        # Higher q first, then the earlier named (a language reached through `*` comes after).
        if q > 0 and (q > best_rating[0] or (q == best_rating[0] and position < best_rating[1])):
            best, best_rating = lang, (q, position)
    return best


# Problem titles (shared.errors and the handlers' own).
TITLES = {
    "Internal error": "服务器内部错误",
    "Not found": "未找到",
    "Conflict": "操作冲突",
    "Invalid input": "输入有误",
    "Malformed request body": "请求体格式错误",
    "Not authenticated": "未登录或登录已失效",
    "Forbidden": "无权操作",
    "Precondition failed": "记录已被他人修改",
    "Precondition required": "缺少 If-Match 请求头",
    "Payload too large": "请求内容过大",
    "Unsupported media type": "不支持的文件类型",
    "Too many requests": "请求过于频繁",
    "Upstream service failed": "后台服务出错",
    "Upstream service timed out": "后台服务超时",
    "Method not allowed": "不支持该请求方法",
    "Not ready": "服务未就绪",
    "Service unavailable": "服务暂不可用",
    "Error": "错误",
}

# Details and field messages, exactly as raised.
MESSAGES = {
    "The file's content is not of a type accepted here.": "文件内容不属于此处接受的类型。",
    "The file is empty.": "文件为空。",
    "The file is not a valid JPEG image.": "文件不是有效的“JPEG”图片。",
    "The file is not a valid PNG image.": "文件不是有效的“PNG”图片。",
    "The file is not a valid HEIC image.": "文件不是有效的“HEIC”图片。",
    "The file is not a valid PDF document.": "文件不是有效的 PDF 文档。",
    "Not found.": "未找到。",
    "Not Found": "未找到。",
    "Method Not Allowed": "不支持该请求方法。",
    "No such resource.": "没有这个资源。",
    "The server could not complete the request.": "服务器未能完成请求。",
    "The database is not reachable.": "无法连接数据库。",
    "Log in and send the access token as 'Authorization: Bearer <token>'.":
        "请先登录，并以 'Authorization: Bearer <token>' 发送访问令牌。",
    "The access token is not valid.": "访问令牌无效。",
    "The access token has expired; refresh it.": "访问令牌已过期，请刷新。",
    "This token cannot be used here.": "此令牌不能用于这里。",
    "This step has been decided already.": "该步骤已经审批过了。",
    "Only an administrator or a station head sets approval rules and assigns supervisors.":
        "只有管理员或站长可以设置审批规则和分派督导。",
    "Only a supervisor assigned to the case's station decides its steps.": "只有分派到该个案所在站点的督导可以审批其步骤。",
    "This account is no longer active; log in again.": "此账号已停用，请重新登录。",
    "This access token no longer matches the account (it was changed, disabled or moved); log in again.":
        "此访问令牌已失效（账号已被修改、停用或调动），请重新登录。",
    "Wrong username or password.": "用户名或密码错误。",
    "This account is disabled; ask an administrator.": "此账号已被停用，请联系管理员。",
    "Too many login attempts from this address; wait a minute.": "此地址登录尝试过多，请稍候一分钟。",
    "The refresh token is not valid; log in again.": "刷新令牌无效，请重新登录。",
    "The refresh token has expired; log in again.": "刷新令牌已过期，请重新登录。",
    "Internal endpoint: a service token is required.": "内部接口：需要服务令牌。",
    "Your station has not reached this service yet; try again in a few seconds.":
        "您所在的站点尚未同步到此服务，请几秒后再试。",
    "This role cannot change personal records.": "此角色不能修改个人记录。",
    "This role sees aggregate figures only, not personal records.": "此角色只能查看统计数据，不能查看个人记录。",
    "This role does not see these counts.": "此角色不能查看这些统计。",
    "Volunteers do not see station aggregates.": "志愿者不能查看站点统计数据。",
    "This role cannot record evaluations.": "此角色不能录入考核评估。",
    "This role cannot change volunteer records.": "此角色不能修改志愿者记录。",
    "This role cannot see beneficiaries, so it cannot record named attendees.":
        "此角色不能查看服务对象，因此不能登记具名参与者。",
    "You cannot disable or enable your own account.": "不能停用或启用自己的账号。",
    "Only a station head or an administrator can change projects.": "只有站长或管理员可以修改项目。",
    "Only a station head or an administrator links a login to a volunteer.":
        "只有站长或管理员可以把登录账号关联到志愿者。",
    "Only an administrator can add population codes.": "只有管理员可以添加人群代码。",
    "Only the volunteer concerned can dispute a record; correct it instead.":
        "只有志愿者本人可以提出异议；请改为更正记录。",
    "Change your own password at /v1/me/password, with your current password.":
        "请在 /v1/me/password 用当前密码修改自己的密码。",
    "Name another leader before removing this one from the team.": "请先指定新的队长，再将此人移出队伍。",
    "Send the device credential as 'Authorization: Bearer <credential>'.":
        "请以 'Authorization: Bearer <credential>' 发送设备凭据。",
    "This device credential is not valid or was revoked.": "设备凭据无效或已被吊销。",
    "The access token expired during the attendee check; refresh it and retry.":
        "核对参与者时访问令牌已过期，请刷新后重试。",
    "Delete this project's groups and activities first.": "请先删除此项目的小组和活动。",
    "You cannot change your own role or station; ask another administrator.":
        "不能修改自己的角色或所属站点，请联系其他管理员。",
    "The record changed since you read it; read it again and reapply your change.":
        "记录在您读取后已被修改，请重新读取后再修改。",
    "Send If-Match with the ETag of the record you read.": "请在 If-Match 中发送您读取记录时的 ETag。",
    "If-Match is not an ETag this API gave out.": "If-Match 不是本接口发出的 ETag。",
    "The cursor is not one this API gave out.": "游标不是本接口发出的。",
    "A beneficiary with this ID number is already registered.": "此身份证号的服务对象已经建档。",
    "A volunteer with this ID number is already registered.": "此身份证号的志愿者已经注册。",
    "Delete or move this beneficiary's cases first.": "请先删除或转移该服务对象的个案。",
    "This population code exists already.": "此人群代码已存在。",
    "This username is taken (usernames ignore case).": "此用户名已被使用（用户名不区分大小写）。",
    "This volunteer number is taken.": "此志愿者编号已被使用。",
    "This user is already linked to another volunteer.": "此用户已关联其他志愿者。",
    "This volunteer has service hours or certificates; mark them 'left' instead.":
        "此志愿者已有服务时长或证明，请改为标记“已退出”。",
    "Users are still bound to the station; move them to another station first.":
        "仍有用户属于此站点，请先将他们转到其他站点。",
    "The station still has stations under it; move or delete them first.": "此站点下还有下级站点，请先转移或删除。",
    "The station still holds records or open work (see holds); move it to another parent with its records "
    "instead (see move), or delete the records first.":
        "此站点仍有记录或未结束的工作（见 “holds”）；请将站点连同记录转移到其他上级站点（见 “move”），或先删除这些记录。",
    "A station cannot move under itself or one of its own descendants.": "站点不能移到自身或其下级站点之下。",
    "This id is already used by a different record.": "此 id 已被另一条记录使用。",
    "Idempotency-Key must be 16 to 255 visible ASCII characters: send a new random UUID with each new request.":
        "Idempotency-Key 须为 16 到 255 个可见 ASCII 字符：每个新请求请发送一个新的随机 UUID。",
    "This Idempotency-Key was sent with a different request; send a new key with each new request.":
        "此 Idempotency-Key 已用于另一个请求；每个新请求请发送新的键。",
    "used with a different request": "已用于另一个请求",
    "This station already has a tablet of this name; revoke that one first, or choose another name.":
        "此站点已有同名平板；请先吊销那一台，或换一个名称。",
    "This station is outside the project's stations.": "此站点不在项目覆盖的站点内。",
    "This date is outside the project period.": "此日期不在项目周期内。",
    "This date is before the case was opened.": "此日期早于开案日期。",
    "A step cannot happen before the case was opened.": "步骤日期不能早于开案日期。",
    "A case is filed at its beneficiary's station or a station below it.": "个案只能建在服务对象所在站点或其下级站点。",
    "This date is before the referral was made.": "此日期早于转介日期。",
    "The project cannot end before it starts.": "项目结束日期不能早于开始日期。",
    "The birth date in this ID number is in the future.": "身份证号中的出生日期晚于今天。",
    "The birth date differs from the one in the ID number.": "出生日期与身份证号中的不一致。",
    "This is not a readable .xlsx workbook.": "这不是可读取的 .xlsx 工作簿。",
    "The password cannot be the username.": "密码不能与用户名相同。",
    "This is a commonly used password; choose another.": "这是常用密码，请换一个。",
    "Do not build the password on your username, your name, the station's name or Haolin.":
        "密码不要以用户名、姓名、站点名称或“好邻”（“haolin”）为基础。",
    "Sequences and keyboard rows like 1234, abcd or qwerty are easy to guess.":
        "“1234”、“abcd”、“qwerty” 这类连续字符或键盘排列很容易被猜到。",
    "Repeats like aaaa or abcabc are easy to guess.": "“aaaa”、“abcabc” 这类重复很容易被猜到。",
    "Dates and years are easy to guess.": "日期和年份很容易被猜到。",
    "This password is easy to guess: use a few uncommon words, or a longer phrase.":
        "此密码很容易被猜到：请用几个不常见的词，或更长的短语。",
    "This field cannot be empty.": "此字段不能为空。",
    "This field cannot be cleared.": "此字段不能清空。",
    "This cannot be changed once the record is made.": "记录创建后不能修改此项。",
    "Cannot be changed once the record exists.": "记录创建后不能修改此项。",
    "Field required.": "必填字段。",
    "Must be a number.": "必须是数字。",
    "'from' is after 'to'.": "开始日期晚于结束日期。",
    "'to' is before 'from'": "结束日期早于开始日期",
    "already registered": "已经登记",
    "This person is registered at another station: ask for a transfer.": "此人已在其他站点建档：请申请转移。",
    "Too many registrations of people registered at other stations; try again later.":
        "登记已在其他站点建档人员的次数过多，请稍后再试。",
    "No such project covering this case's station in your scope.": "您的范围内没有覆盖此个案所在站点的项目。",
    "No such community activity in your scope.": "您的范围内没有该社区活动。",
    "No such group session in your scope.": "您的范围内没有该小组节次。",
    "No such user among the accounts you manage.": "您管理的账号中没有该用户。",
    "Only a login of role volunteer can be linked to a volunteer.": "只有志愿者角色的账号可以关联到志愿者。",
    "The login must be bound to the volunteer's station or one below it.": "该账号须属于志愿者所在站点或其下级站点。",
    "Free text names no activity: leave activity_ref out, or give the activity_kind it belongs to.":
        "自由填写的服务不对应活动：请不填 activity_ref，或填写其所属的 activity_kind。",
    "Population codes are platform-wide: only an administrator of the root station or of a province can add them.":
        "人群代码是全平台共用的：只有根站点或省级站点的管理员可以新增。",
    "exists already": "已存在",
    "is the station itself or inside its subtree": "是站点本身或其下级站点",
    "must be a mainland mobile (11 digits) or a landline with area code": "须为大陆手机号（11 位）或带区号的固定电话",
    "must be Unicode text (a lone surrogate such as \\ud800 is not)": "须为 Unicode 文本（不能含 “\\ud800” 这样的单个代理码）",
    "Must be a station's id.": "必须是站点的 id。",
    "group by at most one period": "最多按一种时段分组",
    "must be 18 characters: 17 digits and a digit or X": "须为 18 位：17 位数字，最后一位为数字或 'X'",
}

_NOUNS = {
    "station": "站点", "beneficiary": "服务对象", "case": "个案", "user": "用户", "volunteer": "志愿者",
    "team": "志愿服务队", "project": "项目", "group": "小组", "activity": "社区活动", "session": "小组节次",
    "service hours record": "志愿服务时长记录", "certificate": "志愿服务证明", "evaluation": "考核评估",
    "device": "设备", "record": "记录", "referral": "转介", "assessment": "预估", "plan": "服务计划",
    "entry": "记录", "follow-up": "跟进", "approval": "审批", "assignment": "督导分派",
    "supervision record": "督导记录",
}
_SERVICES = {"cases": "个案服务", "projects": "项目服务", "volunteers": "志愿者服务", "gateway": "网关"}


def _noun(text: str) -> str:
    return _NOUNS.get(text, "记录")


def _role(text: str) -> str:
    return label("role", text, CHINESE)


# Python's json module's reasons (json.JSONDecodeError.msg), as FastAPI reports a body it cannot parse.
_JSON_REASONS = {
    "Expecting value": "此处应为一个值", "Expecting ',' delimiter": "此处缺少逗号",
    "Expecting ':' delimiter": "此处缺少冒号", "Expecting property name enclosed in double quotes": "属性名须用双引号",
    "Unterminated string starting at": "字符串没有结束", "Invalid control character at": "含有无效的控制字符",
    "Extra data": "JSON 之后还有多余内容", "Invalid \\escape": "含有无效的转义", "Invalid \\uXXXX escape": "含有无效的转义",
}


def _json_reason(text: str) -> str:
    return _JSON_REASONS.get(text, "格式错误")


def _duration(text: str) -> str:
    """'1 h 4 min 9 s' (shared.errors.duration) -> '1 小时 4 分 9 秒'."""
    return re.sub(r"(\d+) (h|min|s)\b", lambda m: f"{m[1]} {dict(h='小时', min='分', s='秒')[m[2]]}", text).strip()


# Messages that carry a value: (pattern, Chinese with the groups put back).
PATTERNS: list[tuple[re.Pattern[str], Any]] = [
    (re.compile(r"No such (.+?) in your scope\."), lambda m: f"您的范围内没有该{_noun(m[1])}。"),
    (re.compile(r"No such (.+?) in the device's (?:subtree|scope)\."),
     lambda m: f"设备所属站点范围内没有该{_noun(m[1])}。"),
    (re.compile(r"No such (.+?) in your scope: (.*)"), lambda m: f"您的范围内没有该{_noun(m[1])}：{m[2]}"),
    (re.compile(r"No such (.+?)\."), lambda m: f"没有该{_noun(m[1])}。"),
    (re.compile(r"Check these fields: (.*)"), lambda m: f"请检查这些字段：{m[1]}"),
    (re.compile(r"The request body is larger than (\d+) bytes\."), lambda m: f"请求体超过 {m[1]} 字节。"),
    (re.compile(r"The file is larger than (\d+) bytes\."), lambda m: f"文件超过 {m[1]} 字节。"),
    (re.compile(r"at most (\d+) bytes"), lambda m: f"最多 {m[1]} 字节"),
    (re.compile(r"The file must be one of these types: (.+)\."),
     lambda m: f"文件必须是以下类型之一：{'、'.join(f'“{k}”' for k in m[1].split(', '))}。"),
    (re.compile(r"The image has more than (\d+) pixels\."), lambda m: f"图片超过 {m[1]} 像素。"),
    (re.compile(r"The (\w+) service did not answer in time\."),
     lambda m: f"{_SERVICES.get(m[1], m[1])}未及时响应。"),
    (re.compile(r"The (\w+) service could not be reached\."), lambda m: f"无法连接{_SERVICES.get(m[1], m[1])}。"),
    (re.compile(r"The (\w+) service did not answer in time about the .+; nothing was recorded\."),
     lambda m: f"{_SERVICES.get(m[1], m[1])}未及时响应，未作任何记录。"),
    (re.compile(r"The (\w+) service could not be reached about the .+; nothing was recorded\."),
     lambda m: f"无法连接{_SERVICES.get(m[1], m[1])}，未作任何记录。"),
    (re.compile(r"The (\w+) service did not answer; .*"),
     lambda m: f"{_SERVICES.get(m[1], m[1])}没有响应，请稍后再试。"),
    (re.compile(r"Services did not answer \((.*)\); the station was not deleted\. Try again\."),
     lambda m: f"服务未响应（{'、'.join(_SERVICES.get(x, x) for x in m[1].split(', '))}），站点未删除，请稍后再试。"),
    (re.compile(r"Services did not answer \((.*)\); the report was not made\. Try again\."),
     lambda m: f"服务未响应（{'、'.join(_SERVICES.get(x, x) for x in m[1].split(', '))}），未能生成报表，请稍后再试。"),
    (re.compile(r"Your role \((\w+)\) cannot .*"), lambda m: f"您的角色（{_role(m[1])}）无权执行此操作。"),
    (re.compile(r"Unknown population code\(s\): (.*)\."), lambda m: f"未知的人群代码：{m[1]}。"),
    (re.compile(r"A step cannot be dated before the case's last step \((.+)\)\."),
     lambda m: f"步骤日期不能早于该个案上一步骤的日期（{m[1]}）。"),
    (re.compile(r"The case's '([\w-]+)' step is awaiting a supervisor's approval\."),
     lambda m: f"该个案的“{m[1]}”步骤正在等待督导审批，审批前不能进行其他步骤。"),
    (re.compile(r"Use at most (\d+) characters\."), lambda m: f"最多使用 {m[1]} 个字符。"),
    (re.compile(r"Use at least (\d+) characters\."), lambda m: f"至少使用 {m[1]} 个字符。"),
    (re.compile(r"More than (\d+) periods: .*"), lambda m: f"超过 {m[1]} 个时段：请选择更长的间隔或更短的日期范围。"),
    (re.compile(r"The answer would hold more than (\d+) rows: .*"),
     lambda m: f"结果将超过 {m[1]} 行：请减少时段、站点或人群。"),
    (re.compile(r"The request body is not valid JSON: line (\d+), column (\d+) \((.*)\)\."),
     lambda m: f"请求体不是有效的 JSON：第 {m[1]} 行第 {m[2]} 列，{_json_reason(m[3])}。"),
    (re.compile(r"Too many failed logins for this username from your address; try again in (.+)\."),
     lambda m: f"此用户名从您的地址登录失败次数过多。请 {_duration(m[1])}后再试。"),
]


def translate(text: str, lang: Lang) -> str:
    """`text` in `lang`; English text without a Chinese entry is returned as it is."""
    if lang == ENGLISH or not text:
        return text
    found = MESSAGES.get(text) or TITLES.get(text)
    if found:
        return found
    for pattern, make in PATTERNS:
        m = pattern.fullmatch(text)
        if m:
            return make(m)
    return text


# pydantic's validation error types (pydantic_core ErrorType), with their context values.
VALIDATION = {
    "missing": "必填字段",
    "extra_forbidden": "不接受此字段",
    "string_type": "应为文本",
    "string_too_short": "至少 {min_length} 个字符",
    "string_too_long": "最多 {max_length} 个字符",
    "string_pattern_mismatch": "格式不符合要求",
    "int_type": "应为整数", "int_parsing": "应为整数", "int_from_float": "应为整数",
    "float_type": "应为数字", "float_parsing": "应为数字",
    "decimal_type": "应为数字", "decimal_parsing": "应为数字",
    "decimal_max_digits": "最多 {max_digits} 位数字",
    "decimal_max_places": "最多 {decimal_places} 位小数",
    "bool_type": "应为 true 或 false", "bool_parsing": "应为 true 或 false",
    "date_type": "应为日期（YYYY-MM-DD）", "date_parsing": "应为日期（YYYY-MM-DD）",
    "date_from_datetime_parsing": "应为日期（YYYY-MM-DD）", "date_from_datetime_inexact": "应为日期（YYYY-MM-DD）",
    "date_past": "应为过去的日期", "date_future": "应为将来的日期",
    "datetime_type": "应为日期时间", "datetime_parsing": "应为日期时间", "datetime_from_date_parsing": "应为日期时间",
    "time_type": "应为时间（HH:MM）", "time_parsing": "应为时间（HH:MM）",
    "uuid_type": "应为 UUID", "uuid_parsing": "应为 UUID",
    "literal_error": "应为以下之一：{expected}",
    "enum": "应为以下之一：{expected}",
    "greater_than": "应大于 {gt}", "greater_than_equal": "应不小于 {ge}",
    "less_than": "应小于 {lt}", "less_than_equal": "应不大于 {le}",
    "too_short": "至少 {min_length} 项", "too_long": "最多 {max_length} 项",
    "list_type": "应为列表", "dict_type": "应为对象", "model_type": "应为对象", "model_attributes_type": "应为对象",
    "json_invalid": "请求体不是有效的 JSON",
    "json_type": "应为 JSON",
}


def _choices(expected: str) -> str:
    """pydantic's "'a', 'b' or 'c'" (an English list of the allowed values) -> "'a'、'b' 或 'c'"."""
    values = re.findall(r"'(?:[^'\\]|\\.)*'", expected)
    if len(values) < 2:
        return expected
    more = "…" if "..." in expected else ""
    return "、".join(values[:-1]) + more + " 或 " + values[-1]


def validation_message(error: dict, lang: Lang) -> str:
    """One pydantic error's message in `lang`; a validator's own message goes through the catalogue."""
    message = error.get("msg", "invalid")
    if lang == ENGLISH:
        return message
    template = VALIDATION.get(error.get("type", ""))
    if template is not None:
        ctx = dict(error.get("ctx") or {})
        if isinstance(ctx.get("expected"), str):
            ctx["expected"] = _choices(ctx["expected"])
        try:
            return template.format(**ctx)
        except (KeyError, IndexError, ValueError):
            return message
    for prefix in ("Value error, ", "Assertion failed, "):
        if message.startswith(prefix):
            return translate(message[len(prefix):], lang)
    return translate(message, lang)
