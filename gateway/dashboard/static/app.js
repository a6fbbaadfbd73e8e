// Haolin dashboard: plain JS on the gateway's public API, no build step.
// Login (OAuth2 password grant, refresh tokens), the station tree of the caller's scope, a period,
// and the aggregate endpoints polled with If-None-Match.
"use strict";

(() => {
  // ---------------------------------------------------------------- texts and labels

  const TEXT = {
    "zh-CN": {
      "doc.title": "好邻 · 数据看板", skip: "跳到主要内容", title: "数据看板", logout: "退出登录",
      "login.title": "登录", "login.username": "用户名", "login.password": "密码", "login.submit": "登录",
      "login.failed": "登录失败", "colon": "：", "login.expired": "登录已过期，请重新登录。",
      "tree.title": "站点", "tree.expand": "展开", "tree.collapse": "收起", crumbs: "站点路径",
      "period.title": "统计周期", "period.kind": "周期类型", "period.month": "按月", "period.quarter": "按季度",
      "period.year": "按年", "period.range": "自定义", "period.month_value": "月份", "period.year_value": "年份",
      "period.quarter_value": "季度", "period.from": "从", "period.to": "至",
      "period.invalid": "请选择有效的统计周期（开始日期不晚于结束日期）。",
      "summary.title": "概览", "system.title": "站点体系", "system.stations": "站点", "system.projects": "项目",
      "system.staff": "人员", "chart.methods": "各服务方法人次", "chart.populations": "各人群人次",
      "summary.supervision": "督导",
      "chart.table": "数据表", "chart.period": "时段", "chart.total": "合计",
      "coverage.note": "已探访 {visited} / 在册 {members}，逾期 {overdue}", "coverage.drill": "按下级站点看逾期",
      "breakdown.title": "下级站点", "breakdown.metric": "指标", "breakdown.hint": "点击站点名称查看该站点。", "breakdown.deleted": "已删除",
      "breakdown.station": "站点", "breakdown.value": "数值", "breakdown.share": "占比",
      "breakdown.own": "本站直属", "breakdown.total": "合计", "breakdown.none": "没有下级站点。",
      "projects.title": "项目目标进度", "projects.none": "该站点在此周期内没有项目。",
      "projects.target": "目标", "projects.met": "已达成", "projects.unmet": "未达成", "projects.period": "项目周期",
      "projects.more": "另有 {n} 个项目未显示。",
      "status.loading": "正在加载…", "status.updated": "更新于 {time}，每 {n} 秒自动刷新",
      "status.unchanged": "数据无变化（{time} 已核对），每 {n} 秒自动刷新",
      "degraded": "部分数据暂缺：{services} 未及时响应，相关数字未计入。",
      "missing": "暂缺", "partial": "不含：{services}",
      "error.forbidden": "您的账号不能查看统计数据。", "error.generic": "出错了：{detail}",
      "error.network": "无法连接服务器。",
      unit: {"person_times": "人次", persons: "人", cases: "个", groups: "个", sessions: "节", activities: "场",
             volunteers: "人", hours: "小时", yuan: "元", stations: "个", projects: "个", staff: "人",
             meetings: "次", case_times: "例次"},
    },
    en: {
      "doc.title": "Haolin · Dashboard", skip: "Skip to main content", title: "Dashboard", logout: "Log out",
      "login.title": "Log in", "login.username": "Username", "login.password": "Password", "login.submit": "Log in",
      "login.failed": "Login failed", "colon": ": ", "login.expired": "Your session has expired; please log in again.",
      "tree.title": "Stations", "tree.expand": "Expand", "tree.collapse": "Collapse", crumbs: "Station path",
      "period.title": "Period", "period.kind": "Kind of period", "period.month": "Month", "period.quarter": "Quarter",
      "period.year": "Year", "period.range": "Custom", "period.month_value": "Month", "period.year_value": "Year",
      "period.quarter_value": "Quarter", "period.from": "From", "period.to": "to",
      "period.invalid": "Choose a valid period (the first day no later than the last).",
      "summary.title": "Summary", "system.title": "Station system", "system.stations": "Stations",
      "system.projects": "Projects", "system.staff": "Staff", "chart.methods": "Person-times by method", "chart.populations": "Person-times by population",
      "summary.supervision": "Supervision",
      "chart.table": "Data table", "chart.period": "Period", "chart.total": "Total",
      "coverage.note": "visited {visited} of {members}; {overdue} overdue",
      "coverage.drill": "Overdue by child station",
      "breakdown.title": "Child stations", "breakdown.metric": "Figure",
      "breakdown.hint": "Click a station's name to look at it.", "breakdown.deleted": "deleted",
      "breakdown.station": "Station", "breakdown.value": "Value", "breakdown.share": "Share",
      "breakdown.own": "Kept at this station", "breakdown.total": "Total", "breakdown.none": "No child stations.",
      "projects.title": "Project targets", "projects.none": "No projects at this station in this period.",
      "projects.target": "Target", "projects.met": "Met", "projects.unmet": "Not yet", "projects.period": "Period",
      "projects.more": "{n} more projects not shown.",
      "status.loading": "Loading…", "status.updated": "Updated at {time}; refreshes every {n} s",
      "status.unchanged": "No change (checked at {time}); refreshes every {n} s",
      "degraded": "Some figures are missing: {services} did not answer in time.",
      "missing": "missing", "partial": "without {services}",
      "error.forbidden": "Your account cannot see station figures.", "error.generic": "Something went wrong: {detail}",
      "error.network": "Cannot reach the server.",
      unit: {"person_times": "", persons: "", cases: "", groups: "", sessions: "", activities: "",
             volunteers: "", hours: "h", yuan: "yuan", stations: "", projects: "", staff: "",
             meetings: "", case_times: ""},
    },
  };

  // Enum labels used until /v1/meta/labels answers (and for any code it does not know).
  // Population labels come from /v1/populations, the operator-extensible list.
  const LABELS = {
    "zh-CN": {
      metric: {
        person_times: "服务人次", persons: "服务人数", "person_times.casework": "个案服务人次",
        "person_times.group": "小组服务人次", "person_times.community": "社区活动人次",
        "person_times.visit": "探访人次", "roster.members": "名册在册人数", "roster.visited": "已探访人数",
        "roster.overdue": "逾期未探访人数", "roster.coverage": "名册探访覆盖率", "cases.new": "新开个案",
        "cases.closed": "结案", "cases.reopened": "重开个案", "cases.open": "在案个案",
        "beneficiaries.registered": "新建档服务对象", groups: "小组", group_sessions: "小组节数", activities: "社区活动",
        "resources.linked_yuan": "链接资源", "volunteers.registered": "新注册志愿者", "volunteers.active": "参与服务志愿者",
        "volunteer.hours": "志愿服务时长", "volunteer.person_times": "志愿服务人次", "cases.full": "完整个案",
        "cases.beneficiaries": "个案服务对象人数", "supervision.sessions": "督导次数", "supervision.hours": "督导时长",
        "supervision.cases_reviewed": "督导研讨个案",
      },
      service: {cases: "个案服务", projects: "项目服务", volunteers: "志愿服务"},
      station_kind: {province: "省", city: "市级中心", county: "县级总站", township: "镇街站", village: "村(社区)室"},
      project_status: {planned: "筹备中", running: "执行中", evaluating: "评估中", closed: "已结项"},
      role: {admin: "管理员", official: "民政官员", station_head: "站长", social_worker: "社工", supervisor: "督导",
             volunteer: "志愿者"},
      condition: {min_sessions: "每个至少 {n} 节", min_members: "每个至少 {n} 人", min_participants: "每场至少 {n} 人"},
    },
    en: {
      metric: {
        person_times: "Person-times", persons: "Persons served", "person_times.casework": "Casework person-times",
        "person_times.group": "Group work person-times", "person_times.community": "Community activity person-times",
        "person_times.visit": "Visit person-times", "roster.members": "People on rosters",
        "roster.visited": "People on rosters visited", "roster.overdue": "People overdue a visit",
        "roster.coverage": "Roster visit coverage", "cases.new": "New cases", "cases.closed": "Closed cases", "cases.reopened": "Reopened cases",
        "cases.open": "Open cases", "beneficiaries.registered": "Beneficiaries registered", groups: "Groups",
        group_sessions: "Group sessions", activities: "Community activities", "resources.linked_yuan": "Resources linked",
        "volunteers.registered": "Volunteers registered", "volunteers.active": "Active volunteers",
        "volunteer.hours": "Volunteer hours", "volunteer.person_times": "Volunteer person-times",
        "cases.full": "Full cases", "cases.beneficiaries": "People with a case",
        "supervision.sessions": "Supervision sessions", "supervision.hours": "Supervision hours",
        "supervision.cases_reviewed": "Cases reviewed in supervision",
      },
      service: {cases: "the casework service", projects: "the projects service", volunteers: "the volunteers service"},
      station_kind: {province: "province", city: "city", county: "county", township: "township", village: "village"},
      project_status: {planned: "planned", running: "running", evaluating: "under evaluation", closed: "closed"},
      role: {admin: "administrator", official: "official", station_head: "station head", social_worker: "social worker",
             supervisor: "supervisor", volunteer: "volunteer"},
      condition: {min_sessions: "each ≥ {n} sessions", min_members: "each ≥ {n} members",
                  min_participants: "each ≥ {n} participants"},
    },
  };

  const UNIT_OF = {
    person_times: "person_times", "person_times.casework": "person_times", "person_times.group": "person_times",
    "person_times.community": "person_times", "person_times.visit": "person_times",
    "roster.members": "persons", "roster.visited": "persons", "roster.overdue": "persons",
    "volunteer.person_times": "person_times", persons: "persons",
    "cases.new": "cases", "cases.closed": "cases", "cases.reopened": "cases", "cases.open": "cases",
    "beneficiaries.registered": "persons", groups: "groups", group_sessions: "sessions", activities: "activities",
    "resources.linked_yuan": "yuan", "volunteers.registered": "volunteers", "volunteers.active": "volunteers",
    "volunteer.hours": "hours", "cases.full": "cases",
    "cases.beneficiaries": "persons",
    "stations.total": "stations", "stations.province": "stations", "stations.city": "stations",
    "stations.county": "stations", "stations.township": "stations", "stations.village": "stations",
    "stations.started": "stations", "stations.active": "stations", "projects.active": "projects",
    "projects.started": "projects", "projects.closed": "projects", "projects.budget_yuan": "yuan",
    "staff.social_workers": "staff", "staff.station_heads": "staff", "staff.supervisors": "staff",
    "staff.active_workers": "staff", "supervision.sessions": "meetings", "supervision.hours": "hours",
    "supervision.cases_reviewed": "case_times",
  };
  // The station-system card (the summary's `system`): the tree by tier, projects, staff; counts only.
  const SYSTEM = [
    ["system.stations", ["stations.total", "stations.province", "stations.city", "stations.county",
                         "stations.township", "stations.village", "stations.started", "stations.active"]],
    ["system.projects", ["projects.active", "projects.started", "projects.closed", "projects.budget_yuan"]],
    ["system.staff", ["staff.social_workers", "staff.station_heads", "staff.supervisors", "staff.active_workers"]],
  ];
  // The summary cards, in reading order; the first two are the headline figures.
  const CARDS = ["person_times", "persons", "person_times.casework", "person_times.group", "person_times.community",
                 "person_times.visit", "cases.new", "cases.open", "cases.closed", "groups", "group_sessions", "activities",
                 "beneficiaries.registered", "volunteers.active", "volunteer.hours", "volunteer.person_times",
                 "resources.linked_yuan"];
  // One card, the width of the row, for supervision (督导): sessions, hours and cases reviewed.
  const SUPERVISION = ["supervision.sessions", "supervision.hours", "supervision.cases_reviewed"];
  const METHODS = ["person_times.casework", "person_times.group", "person_times.community", "person_times.visit"];
  const BREAKDOWN_METRICS = ["person_times", "persons", ...METHODS, "roster.visited", "roster.members",
                             "roster.overdue", "cases.open", "cases.new", "activities",
                             "volunteer.hours", "resources.linked_yuan", "stations.total", "stations.active",
                             "projects.active", "staff.social_workers"];
  const COLORS = ["#1f6f8b", "#e07a1f", "#3a9a5b", "#8e5bb5", "#c94c4c", "#5b7fd1", "#b59a2e", "#4aa3a3",
                  "#a0522d", "#7a7a7a"];
  const MAX_POPULATION_SERIES = 8;
  const MAX_PROJECTS = 20;

  const params = new URLSearchParams(location.search);
  const POLL_S = Math.max(1, Number(params.get("poll")) || 30);

  const state = {
    lang: localStorage.getItem("haolin.lang") === "en" ? "en" : "zh-CN",
    me: null,
    station: null, // {id, name, kind, path}
    stations: new Map(), // id -> station, for crumbs and the tree
    served: {}, // lang -> labels from /v1/meta/labels
    populations: {}, // code -> {zh, en}
    data: {}, // the last answers, re-rendered on a language switch
    pollTimer: null,
    generation: 0, // bumps on every station or period change: late answers of an old view are dropped
  };

  const $ = (id) => document.getElementById(id);
  const el = (tag, attrs = {}, ...children) => {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children) if (c !== null && c !== undefined) node.append(c);
    return node;
  };

  function t(key, vars = {}) {
    let s = TEXT[state.lang][key] ?? TEXT["zh-CN"][key] ?? key;
    for (const [k, v] of Object.entries(vars)) s = s.replace(`{${k}}`, v);
    return s;
  }

  function label(group, code) {
    if (group === "population") {
      const p = state.populations[code];
      const served = state.served[state.lang]?.population?.[code];
      if (served) return served;
      if (p) return state.lang === "en" ? p.en : p.zh;
      return code;
    }
    return state.served[state.lang]?.[group]?.[code] ?? LABELS[state.lang][group]?.[code] ?? code;
  }

  const services = (list) => list.map((s) => label("service", s)).join(state.lang === "en" ? ", " : "、");

  // A figure's name: the page's own for the service work's figures, else the served figure table
  // (/v1/meta/labels), which knows the station system's too.
  const figureLabel = (metric) => state.served[state.lang]?.metric?.[metric] ?? LABELS[state.lang].metric[metric]
    ?? state.served[state.lang]?.figure?.[metric] ?? metric;

  // How a figure is counted (figure_rule of /v1/meta/labels; docs/counting.md), shown on hover.
  const rule = (metric) => state.served[state.lang]?.figure_rule?.[metric] || undefined;

  function fmt(value, digits = 2) {
    if (value === null || value === undefined) return "—";
    return new Intl.NumberFormat(state.lang, {maximumFractionDigits: digits}).format(value);
  }

  function unit(metric) {
    return TEXT[state.lang].unit[UNIT_OF[metric]] || "";
  }

  // ---------------------------------------------------------------- auth and HTTP

  const auth = {
    access: sessionStorage.getItem("haolin.access"),
    refresh: sessionStorage.getItem("haolin.refresh"),
    refreshing: null,
    timer: null,
  };

  function keepTokens(pair) {
    auth.access = pair.access_token;
    auth.refresh = pair.refresh_token;
    sessionStorage.setItem("haolin.access", auth.access);
    sessionStorage.setItem("haolin.refresh", auth.refresh);
    clearTimeout(auth.timer);
    // Renew a little before the access token runs out, so a poll never meets a 401.
    auth.timer = setTimeout(() => refreshTokens().catch(() => {}), Math.max(10, pair.expires_in * 0.8) * 1000);
  }

  function dropTokens() {
    auth.access = auth.refresh = null;
    sessionStorage.removeItem("haolin.access");
    sessionStorage.removeItem("haolin.refresh");
    clearTimeout(auth.timer);
  }

  class ApiError extends Error {
    constructor(status, problem) {
      super(problem?.detail || problem?.title || `HTTP ${status}`);
      this.status = status;
      this.problem = problem;
    }
  }

  async function problemOf(r) {
    try { return await r.json(); } catch { return null; }
  }

  // A refresh token works once: concurrent 401s share one refresh.
  function refreshTokens() {
    if (!auth.refreshing) {
      auth.refreshing = (async () => {
        if (!auth.refresh) throw new ApiError(401, null);
        const r = await fetch("/v1/auth/refresh", {
          method: "POST", headers: {"Content-Type": "application/json", "Accept-Language": state.lang},
          body: JSON.stringify({refresh_token: auth.refresh}),
        });
        if (!r.ok) {
          dropTokens();
          throw new ApiError(r.status, await problemOf(r));
        }
        keepTokens(await r.json());
      })().finally(() => { auth.refreshing = null; });
    }
    return auth.refreshing;
  }

  // url -> {etag, body}: the last answer of each polled URL, sent back as If-None-Match.
  const conditional = new Map();

  async function api(path, {poll = false} = {}) {
    const send = () => {
      const headers = {"Authorization": `Bearer ${auth.access}`, "Accept": "application/json",
                       "Accept-Language": state.lang};
      const known = poll && conditional.get(path);
      if (known) headers["If-None-Match"] = known.etag;
      // no-store: our own If-None-Match decides, and a 304 reaches this code instead of the HTTP cache.
      return fetch(path, {headers, cache: "no-store"});
    };
    let r = await send();
    if (r.status === 401 && auth.refresh) {
      await refreshTokens().catch(() => {});
      if (auth.access) r = await send();
    }
    if (r.status === 401) {
      dropTokens();
      showLogin(t("login.expired"));
      throw new ApiError(401, await problemOf(r));
    }
    if (r.status === 304) return {body: conditional.get(path).body, changed: false};
    if (!r.ok) throw new ApiError(r.status, await problemOf(r));
    const body = await r.json();
    const etag = r.headers.get("ETag");
    if (poll && etag) conditional.set(path, {etag, body});
    return {body, changed: true};
  }

  async function allPages(path) {
    const items = [];
    let cursor = null;
    do {
      const sep = path.includes("?") ? "&" : "?";
      const url = `${path}${sep}limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
      const {body} = await api(url);
      items.push(...body.items);
      cursor = body.next_cursor;
    } while (cursor);
    return items;
  }

  // ---------------------------------------------------------------- static texts

  function applyTexts() {
    document.documentElement.lang = state.lang;
    document.title = t("doc.title");
    for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
    for (const node of document.querySelectorAll("[data-i18n-aria]")) {
      node.setAttribute("aria-label", t(node.dataset.i18nAria));
    }
    const other = state.lang === "en" ? "zh-CN" : "en";
    const button = $("lang");
    button.textContent = other === "en" ? "English" : "中文";
    button.lang = other;
    button.setAttribute("aria-label", other === "en" ? "Switch to English" : "切换到中文");
    const select = $("breakdown-metric");
    const chosen = select.value || "person_times";
    select.replaceChildren(...BREAKDOWN_METRICS.map((m) => el("option", {value: m, text: figureLabel(m)})));
    select.value = chosen;
  }

  async function loadLabels(lang) {
    if (state.served[lang]) return;
    try {
      const r = await fetch(`/v1/meta/labels?lang=${encodeURIComponent(lang)}`,
                            {headers: {"Accept-Language": lang,
                                       ...(auth.access ? {"Authorization": `Bearer ${auth.access}`} : {})}});
      if (!r.ok) {
        if (r.status === 404) state.served[lang] = {}; // not served by this gateway: the built-in table
        return;
      }
      const body = await r.json();
      // Any {group: {code: label}} maps, at the top level or under "labels".
      const groups = body.labels && typeof body.labels === "object" ? body.labels : body;
      const found = {};
      for (const [group, codes] of Object.entries(groups)) {
        if (!codes || typeof codes !== "object" || Array.isArray(codes)) continue;
        const name = {metrics: "metric", populations: "population", services: "service", roles: "role",
                      station_kinds: "station_kind", project_statuses: "project_status"}[group] || group;
        found[name] = {};
        for (const [code, text] of Object.entries(codes)) {
          if (typeof text === "string") found[name][code] = text;
          else if (text && typeof text.label === "string") found[name][code] = text.label;
        }
      }
      state.served[lang] = found;
    } catch {
      // The built-in table stays in use.
    }
  }

  async function loadPopulations() {
    try {
      const {body} = await api("/v1/populations");
      for (const p of body.items) state.populations[p.code] = {zh: p.label_zh, en: p.label_en};
    } catch {
      // Codes are shown as they are.
    }
  }

  // ---------------------------------------------------------------- login

  function showLogin(message) {
    stopPolling();
    $("dash-view").hidden = true;
    $("login-view").hidden = false;
    $("logout").hidden = true;
    $("who").textContent = "";
    const error = $("login-error");
    error.hidden = !message;
    error.textContent = message || "";
    $("username").focus();
  }

  async function onLogin(event) {
    event.preventDefault();
    const error = $("login-error");
    error.hidden = true;
    const body = new URLSearchParams({username: $("username").value.trim(), password: $("password").value});
    let r;
    try {
      // In the page's language: the API answers its problems in it (Accept-Language).
      r = await fetch("/v1/auth/token", {method: "POST", body, headers: {"Accept-Language": state.lang}});
    } catch {
      error.textContent = t("error.network");
      error.hidden = false;
      return;
    }
    if (!r.ok) {
      const problem = await problemOf(r);
      error.textContent = `${t("login.failed")}${t("colon")}${problem?.detail || problem?.title || r.status}`;
      error.hidden = false;
      return;
    }
    keepTokens(await r.json());
    $("password").value = "";
    await start();
  }

  async function onLogout() {
    const refresh = auth.refresh;
    dropTokens();
    conditional.clear();
    state.data = {};
    state.stations.clear();
    if (refresh) {
      fetch("/v1/auth/logout", {method: "POST", headers: {"Content-Type": "application/json"},
                                body: JSON.stringify({refresh_token: refresh})}).catch(() => {});
    }
    showLogin();
  }

  // ---------------------------------------------------------------- the station tree

  function remember(station) {
    state.stations.set(station.id, {...state.stations.get(station.id), ...station});
  }

  // Nested lists of buttons (the disclosure pattern): every station is one Tab stop away, and a
  // screen reader hears "expanded"/"collapsed" on the toggle; children load when first opened.
  function treeItem(station) {
    remember(station);
    const toggle = el("button", {type: "button", class: "toggle", "aria-expanded": "false",
                                 "aria-label": `${t("tree.expand")} ${station.name}`, text: "▸"});
    const pick = el("button", {type: "button", class: "pick", "data-station": station.id},
                    station.name, el("span", {class: "kind", text: label("station_kind", station.kind)}));
    const li = el("li", {"data-id": station.id}, el("div", {class: "node"}, toggle, pick));
    toggle.addEventListener("click", () => toggleNode(li));
    pick.addEventListener("click", () => selectStation(station.id));
    return li;
  }

  const toggleOf = (li) => li.querySelector(":scope > .node > .toggle");

  function setExpanded(li, open) {
    const toggle = toggleOf(li);
    const name = state.stations.get(Number(li.dataset.id))?.name ?? "";
    toggle.setAttribute("aria-expanded", String(open));
    toggle.setAttribute("aria-label", `${t(open ? "tree.collapse" : "tree.expand")} ${name}`);
    toggle.textContent = open ? "▾" : "▸";
    const group = li.querySelector(":scope > ul");
    if (group) group.hidden = !open;
  }

  async function expandNode(li) {
    const toggle = toggleOf(li);
    if (toggle.disabled || toggle.getAttribute("aria-expanded") === "true") return;
    if (!li.querySelector(":scope > ul")) {
      const children = await allPages(`/v1/stations/${li.dataset.id}/children`);
      if (!children.length) {
        toggle.disabled = true;
        toggle.removeAttribute("aria-expanded");
        return;
      }
      li.append(el("ul", {}, ...children.map(treeItem)));
      markCurrent();
    }
    setExpanded(li, true);
  }

  async function toggleNode(li) {
    if (toggleOf(li).getAttribute("aria-expanded") === "true") setExpanded(li, false);
    else await expandNode(li);
  }

  function markCurrent() {
    for (const b of document.querySelectorAll("#tree .pick")) {
      if (state.station && Number(b.dataset.station) === state.station.id) {
        b.setAttribute("aria-current", "true");
        showInPanel(b);
      } else {
        b.removeAttribute("aria-current");
      }
    }
  }

  // The selected station in view inside the tree's own scroll box (a province has thousands of
  // stations; one reached by drilling down may sit far below), without scrolling the page.
  function showInPanel(button) {
    const panel = $("tree-panel");
    const box = button.getBoundingClientRect(), view = panel.getBoundingClientRect();
    if (box.top < view.top || box.bottom > view.top + panel.clientHeight) {
      panel.scrollTop += box.top - view.top - panel.clientHeight / 3;
    }
  }

  const pathIds = (path) => path.split("/").filter(Boolean).map(Number);

  // Open the tree down to the selected station (it may have been reached by drilling down).
  async function reveal(station) {
    const rootId = state.me.station.id;
    const ids = pathIds(station.path);
    for (const id of ids.slice(ids.indexOf(rootId), -1)) {
      const li = document.querySelector(`#tree li[data-id="${id}"]`);
      if (li) await expandNode(li);
    }
    markCurrent();
  }

  async function renderCrumbs(station) {
    const ids = pathIds(station.path);
    const visible = ids.slice(Math.max(0, ids.indexOf(state.me.station.id)));
    const names = await Promise.all(visible.map(async (id) => {
      if (!state.stations.has(id)) remember((await api(`/v1/stations/${id}`)).body);
      return state.stations.get(id);
    }));
    $("crumbs").hidden = names.length < 2; // the heading names the station already
    $("crumbs").replaceChildren(...names.map((s, i) => el("li", {},
      i === names.length - 1 ? el("span", {"aria-current": "page", text: s.name})
        : el("button", {type: "button", class: "link", text: s.name, onclick: () => selectStation(s.id)}))));
  }

  async function selectStation(id) {
    if (!state.stations.has(id) || !state.stations.get(id).path) remember((await api(`/v1/stations/${id}`)).body);
    state.station = state.stations.get(id);
    $("station-name").textContent = state.station.name;
    markCurrent();
    renderCrumbs(state.station).catch(showError);
    reveal(state.station).catch(() => {});
    await refresh(true);
  }

  // ---------------------------------------------------------------- the period

  const iso = (d) => `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;

  function initPeriod() {
    const now = new Date();
    $("p-month").value = iso(now).slice(0, 7);
    $("p-qyear").value = $("p-year").value = now.getFullYear();
    $("p-quarter").value = String(Math.floor(now.getMonth() / 3) + 1);
    $("p-from").value = `${now.getFullYear()}-01-01`;
    $("p-to").value = iso(now);
    $("period-kind").value = "year";
    showPeriodParts();
  }

  function showPeriodParts() {
    const kind = $("period-kind").value;
    for (const part of document.querySelectorAll(".period-part")) part.hidden = part.dataset.kind !== kind;
  }

  // {from, to, interval}: the dates asked for, and the series' step (a bar per day in a month...).
  function period() {
    const kind = $("period-kind").value;
    const end = (y, m) => iso(new Date(y, m, 0)); // day 0 of the next month: the last of month m
    let from, to, interval;
    if (kind === "month") {
      const [y, m] = $("p-month").value.split("-").map(Number);
      if (!y || !m) return null;
      from = `${y}-${String(m).padStart(2, "0")}-01`; to = end(y, m); interval = "day";
    } else if (kind === "quarter") {
      const y = Number($("p-qyear").value), q = Number($("p-quarter").value);
      if (!y) return null;
      from = `${y}-${String(q * 3 - 2).padStart(2, "0")}-01`; to = end(y, q * 3); interval = "week";
    } else if (kind === "year") {
      const y = Number($("p-year").value);
      if (!y) return null;
      from = `${y}-01-01`; to = `${y}-12-31`; interval = "month";
    } else {
      from = $("p-from").value; to = $("p-to").value;
      if (!from || !to || from > to) return null;
      const days = (Date.parse(to) - Date.parse(from)) / 86400000 + 1;
      interval = days <= 45 ? "day" : days <= 200 ? "week" : days <= 1100 ? "month" : "quarter";
    }
    return {from, to, interval};
  }

  // ---------------------------------------------------------------- loading and polling

  function stopPolling() {
    clearTimeout(state.pollTimer);
    state.pollTimer = null;
  }

  function schedulePoll() {
    stopPolling();
    state.pollTimer = setTimeout(() => refresh(false).finally(schedulePoll), POLL_S * 1000);
  }

  function showError(err) {
    const box = $("error");
    if (!err) { box.hidden = true; return; }
    if (err.status === 401) return; // the login form says it
    box.textContent = err.status === 403 ? t("error.forbidden")
      : err instanceof ApiError ? t("error.generic", {detail: err.message}) : t("error.network");
    box.hidden = false;
  }

  // Everything the view shows, asked in parallel; `fresh`: a new station or period (not a poll).
  async function refresh(fresh) {
    const p = period();
    if (!state.station) return;
    if (!p) {
      $("status").textContent = t("period.invalid");
      return;
    }
    const generation = fresh ? ++state.generation : state.generation;
    const q = `station_id=${state.station.id}&from=${p.from}&to=${p.to}`;
    const metric = $("breakdown-metric").value || "person_times";
    if (fresh) {
      $("status").textContent = t("status.loading");
      $("period-dates").textContent = `${p.from} – ${p.to}`;
    }
    const ask = (path) => api(path, {poll: true});
    try {
      const [summary, methods, populations, breakdown, projects] = await Promise.all([
        ask(`/v1/stats/summary?${q}`),
        Promise.all(METHODS.map((m) => ask(`/v1/stats/timeseries?${q}&metric=${m}&interval=${p.interval}`))),
        ask(`/v1/stats/timeseries?${q}&metric=person_times&interval=${p.interval}&by=population`),
        ask(`/v1/stats/breakdown?${q}&metric=${encodeURIComponent(metric)}`),
        loadProjects(p),
      ]);
      if (generation !== state.generation) return;
      const changed = fresh || summary.changed || methods.some((m) => m.changed) || populations.changed
        || breakdown.changed || projects.changed;
      state.data = {summary: summary.body, methods: methods.map((m) => m.body), populations: populations.body,
                    breakdown: breakdown.body, projects: projects.items, projectsHidden: projects.hidden,
                    projectsDown: projects.down};
      showError(null);
      if (changed) render();
      const time = new Date().toLocaleTimeString(state.lang);
      $("status").textContent = t(changed ? "status.updated" : "status.unchanged", {time, n: POLL_S});
      document.body.dataset.loaded = String(state.generation);
    } catch (err) {
      if (generation === state.generation) {
        $("status").textContent = "";
        showError(err);
      }
    }
  }

  // A failing projects service leaves this part empty and named, not the whole view.
  const unlessLoggedOut = (err) => { if (err.status === 401) throw err; return null; };

  async function loadProjects(p) {
    const all = await allPages(`/v1/projects?station_id=${state.station.id}`).catch(unlessLoggedOut);
    if (all === null) return {items: [], hidden: 0, changed: true, down: true};
    const overlapping = all.filter((x) => x.starts_on <= p.to && x.ends_on >= p.from);
    const shown = overlapping.slice(0, MAX_PROJECTS);
    const progress = await Promise.all(shown.map((x) => api(`/v1/projects/${x.id}/progress`, {poll: true})
      .catch(unlessLoggedOut)));
    return {items: shown.map((x, i) => ({project: x, progress: progress[i]?.body ?? null})),
            hidden: overlapping.length - shown.length, changed: progress.some((r) => !r || r.changed),
            down: progress.some((r) => r === null)};
  }

  // ---------------------------------------------------------------- rendering

  function render() {
    const d = state.data;
    if (!d.summary) return;
    renderDegraded();
    renderCards(d.summary);
    renderSystem(d.summary);
    renderMethods(d.methods);
    renderPopulations(d.populations);
    renderBreakdown(d.breakdown);
    renderProjects(d.projects, d.projectsHidden, d.projectsDown);
  }

  function renderDegraded() {
    const d = state.data;
    const down = new Set([...d.summary.degraded, ...d.populations.degraded, ...d.breakdown.degraded,
                          ...d.methods.flatMap((m) => m.degraded),
                          ...d.projects.flatMap((x) => x.progress?.degraded || []),
                          ...(d.projectsDown ? ["projects"] : [])]);
    const box = $("degraded");
    box.hidden = down.size === 0;
    box.dataset.services = [...down].sort().join(" ");
    box.textContent = down.size ? t("degraded", {services: services([...down].sort())}) : "";
  }

  // "≈ 1,234" for an estimate, with its bounds for screen readers and on hover.
  function valueNode(figure, metric, digits) {
    const span = el("span", {class: "value", "data-value": figure.value ?? ""});
    if (figure.value === null || figure.value === undefined) {
      span.textContent = "—";
      span.append(el("span", {class: "sr-only", text: t("missing")}));
      return span;
    }
    span.textContent = fmt(figure.value, digits);
    if (metric && unit(metric)) span.append(el("span", {class: "unit", text: unit(metric)}));
    return span;
  }

  // Coverage (覆盖率): people on a roster visited in the period / people on a roster at its end, with the
  // overdue count; its button drills down to the child stations' overdue counts.
  function coverageCard(summary) {
    const members = summary.figures["roster.members"] || {value: null};
    const visited = summary.figures["roster.visited"] || {value: null};
    const overdue = summary.figures["roster.overdue"] || {value: null};
    const known = members.value !== null && visited.value !== null;
    const share = known && members.value > 0 ? Math.round(1000 * visited.value / members.value) / 10 : null;
    const value = el("div", {class: "value", text: share === null ? (known ? "–" : "…") : `${fmt(share, 1)}%`});
    value.dataset.value = share === null ? "" : String(share);
    const drill = el("button", {type: "button", class: "drill", text: t("coverage.drill")});
    drill.addEventListener("click", () => {
      $("breakdown-metric").value = "roster.overdue";
      refresh(true);
      $("breakdown-metric").scrollIntoView({block: "center"});
    });
    return el("div", {class: `figure coverage${known ? "" : " missing"}`, "data-figure": "roster.coverage"},
              el("div", {class: "label", text: label("metric", "roster.coverage"), title: rule("roster.visited")}),
              value,
              el("div", {class: "note", text: t("coverage.note", {visited: fmt(visited.value, 0),
                                                                 members: fmt(members.value, 0),
                                                                 overdue: fmt(overdue.value, 0)})}),
              drill);
  }

  function renderCards(summary) {
    $("station-name").textContent = summary.station.name;
    const cards = CARDS.map((metric, i) => {
      const figure = summary.figures[metric] || {value: null, missing: []};
      const missing = figure.missing || [];
      const note = figure.value === null ? `${t("missing")}: ${services(missing)}`
        : missing.length ? t("partial", {services: services(missing)}) : "";
      return el("div", {class: `figure${i < 2 ? " main" : ""}${figure.value === null ? " missing" : ""}`,
                        "data-figure": metric},
                el("div", {class: "label", text: label("metric", metric), title: rule(metric)}),
                valueNode(figure, metric, 2),
                note ? el("div", {class: "note", text: note}) : null);
    });
    // The headline figures first, then coverage (with the overdue count), then the rest, and supervision.
    $("cards").replaceChildren(...cards.slice(0, 2), coverageCard(summary), ...cards.slice(2), supervisionCard(summary));
  }

  function supervisionCard(summary) {
    const missing = [...new Set(SUPERVISION.flatMap((m) => (summary.figures[m] || {}).missing || []))];
    return el("div", {class: "figure supervision", "data-card": "supervision"},
              el("div", {class: "label", text: t("summary.supervision")}),
              el("div", {class: "parts"}, ...SUPERVISION.map((metric) => {
                const figure = summary.figures[metric] || {value: null, missing: []};
                return el("div", {class: "part", "data-figure": metric},
                          el("div", {class: "label", text: label("metric", metric), title: rule(metric)}),
                          valueNode(figure, metric, 2));
              })),
              missing.length ? el("div", {class: "note", text: t("partial", {services: services(missing)})}) : null);
  }

  function renderSystem(summary) {
    const system = summary.system || {};
    $("system").replaceChildren(...SYSTEM.map(([title, metrics]) => el("div", {class: "system-group"},
      el("h3", {text: t(title)}),
      el("div", {class: "cards"}, ...metrics.map((metric) => {
        const figure = system[metric] || {value: null, missing: []};
        const missing = figure.missing || [];
        const note = figure.value === null ? `${t("missing")}: ${services(missing)}`
          : missing.length ? t("partial", {services: services(missing)}) : "";
        // The budget's split by funding source comes under by_population.
        const sources = Object.entries(figure.by_population || {}).map(
          ([code, v]) => el("div", {class: "note", "data-source": code, text: `${label("funding_source", code)} ${fmt(v)}`}));
        return el("div", {class: `figure${figure.value === null ? " missing" : ""}`, "data-figure": metric},
                  el("div", {class: "label", text: figureLabel(metric), title: rule(metric)}),
                  valueNode(figure, metric, 2),
                  note ? el("div", {class: "note", text: note}) : null, ...sources);
      })))));
  }

  const charts = {};

  function periodLabel(period, interval) {
    if (interval === "year") return period.slice(0, 4);
    if (interval === "quarter") return `${period.slice(0, 4)} Q${Math.floor((Number(period.slice(5, 7)) - 1) / 3) + 1}`;
    if (interval === "month") return period.slice(0, 7);
    return period.slice(5);
  }

  function drawChart(id, config, description) {
    const canvas = $(id);
    canvas.setAttribute("aria-label", description);
    if (typeof Chart === "undefined") return; // the table below still shows every number
    if (charts[id]) {
      charts[id].data = config.data;
      charts[id].options = config.options;
      charts[id].update();
    } else {
      charts[id] = new Chart(canvas, config);
    }
  }

  function chartOptions(stacked) {
    return {
      responsive: true, maintainAspectRatio: false, animation: false,
      locale: state.lang,
      interaction: {mode: "index", intersect: false},
      plugins: {legend: {position: "bottom", labels: {boxWidth: 12}}},
      scales: {x: {stacked}, y: {stacked, beginAtZero: true, ticks: {precision: 0}}},
    };
  }

  // A table of a chart's numbers: for screen readers, for printing, and to read exact values.
  function seriesTable(id, periods, interval, rows) {
    const head = el("tr", {}, el("th", {scope: "col", text: t("chart.period")}),
                    ...rows.map((r) => el("th", {scope: "col", class: "num", text: r.name})));
    const body = periods.map((p, i) => el("tr", {}, el("th", {scope: "row", text: periodLabel(p.period, interval)}),
      ...rows.map((r) => el("td", {class: "num", "data-series": r.key, "data-period": p.period,
                                   text: fmt(r.values ? r.values[i] : null)}))));
    $(id).replaceChildren(el("table", {class: "data"}, el("thead", {}, head), el("tbody", {}, ...body)));
  }

  // The periods of an answer that have begun: a month or year still under way ends at today, not
  // with days to come drawn as 0.
  function begun(answer) {
    const today = iso(new Date());
    const n = answer.periods.filter((p) => p.period <= today).length;
    return {periods: answer.periods.slice(0, n), cut: (values) => (values ? values.slice(0, n) : values)};
  }

  function renderMethods(answers) {
    const first = answers[0];
    const {periods, cut} = begun(first);
    const rows = answers.map((a, i) => ({key: METHODS[i], name: label("metric", METHODS[i]),
                                         values: cut(a.series.find((s) => s.population === null)?.values || null)}));
    const labels = periods.map((p) => periodLabel(p.period, first.interval));
    drawChart("chart-methods", {
      type: "bar",
      data: {labels, datasets: rows.map((r, i) => ({label: r.name, data: r.values || [], backgroundColor: COLORS[i]}))},
      options: chartOptions(true),
    }, `${t("chart.methods")}: ${rows.map((r) => `${r.name} ${fmt((r.values || []).reduce((a, b) => a + b, 0))}`).join("; ")}`);
    seriesTable("methods-table", periods, first.interval, rows);
  }

  function renderPopulations(answer) {
    const {periods, cut} = begun(answer);
    const byPopulation = answer.series.filter((s) => s.population !== null)
      .map((s) => ({...s, values: cut(s.values), sum: s.values.reduce((a, b) => a + b, 0)}))
      .sort((a, b) => b.sum - a.sum).slice(0, MAX_POPULATION_SERIES);
    const total = answer.series.find((s) => s.population === null);
    const rows = [...byPopulation.map((s) => ({key: s.population, name: label("population", s.population), values: s.values})),
                  ...(total ? [{key: "_all", name: t("chart.total"), values: cut(total.values)}] : [])];
    const labels = periods.map((p) => periodLabel(p.period, answer.interval));
    // The total (everyone, each person once) is many times any one population: on its own axis,
    // at the right, so that it does not flatten the populations' lines onto the bottom one.
    const options = chartOptions(false);
    options.scales.total = {position: "right", beginAtZero: true, ticks: {precision: 0},
                            grid: {drawOnChartArea: false}, title: {display: true, text: t("chart.total")}};
    drawChart("chart-populations", {
      type: "line",
      data: {labels, datasets: rows.map((r, i) => {
        const isTotal = r.key === "_all";
        const color = isTotal ? "#1d2733" : COLORS[i % COLORS.length];
        return {label: r.name, data: r.values, borderColor: color, backgroundColor: color, yAxisID: isTotal ? "total" : "y",
                borderDash: isTotal ? [6, 4] : undefined, pointRadius: 2};
      })},
      options,
    }, `${t("chart.populations")}: ${byPopulation.map((s) => `${label("population", s.population)} ${fmt(s.sum)}`).join("; ")}`);
    seriesTable("populations-table", periods, answer.interval, rows);
  }

  function renderBreakdown(answer) {
    const table = $("breakdown");
    const metric = answer.metric;
    const head = el("thead", {}, el("tr", {},
      el("th", {scope: "col", text: t("breakdown.station")}),
      el("th", {scope: "col", class: "num", text: `${figureLabel(metric)}${unit(metric) ? ` (${unit(metric)})` : ""}`,
                title: rule(metric)}),
      el("th", {scope: "col", text: t("breakdown.share")})));
    const max = Math.max(1, ...answer.rows.map((r) => r.value || 0), answer.own.value || 0);
    const bar = (v) => {
      const inner = el("span");
      inner.style.width = `${Math.round(((v || 0) / max) * 100)}%`;
      return el("div", {class: "bar", "aria-hidden": "true"}, inner);
    };
    const rows = answer.rows.map((r) => {
      // A deleted child whose records still count: shown, but there is no station to open.
      if (r.station.deleted) {
        return el("tr", {"data-child": r.station.id, "data-deleted": ""},
          el("th", {scope: "row", text: `${r.station.name} (${t("breakdown.deleted")})`}),
          el("td", {class: "num"}, valueNode(r, null, 2)),
          el("td", {}, bar(r.value)));
      }
      remember({...r.station, parent_id: answer.station.id});
      return el("tr", {"data-child": r.station.id},
        el("th", {scope: "row"}, el("button", {type: "button", class: "link", text: r.station.name,
                                               onclick: () => selectStation(r.station.id)})),
        el("td", {class: "num"}, valueNode(r, null, 2)),
        el("td", {}, bar(r.value)));
    });
    if (!rows.length) rows.push(el("tr", {}, el("td", {colspan: "3", class: "muted", text: t("breakdown.none")})));
    const own = el("tr", {"data-own": ""}, el("th", {scope: "row", text: t("breakdown.own")}),
                   el("td", {class: "num"}, valueNode(answer.own, null, 2)), el("td", {}, bar(answer.own.value)));
    const foot = el("tfoot", {}, el("tr", {"data-total": ""}, el("th", {scope: "row", text: t("breakdown.total")}),
                                    el("td", {class: "num"}, valueNode(answer.total, null, 2)), el("td")));
    table.replaceChildren(el("caption", {class: "sr-only", text: `${t("breakdown.title")}: ${answer.station.name}`}),
                          head, el("tbody", {}, ...rows, own), foot);
  }

  function conditionsText(conditions) {
    return Object.entries(conditions || {}).map(([k, n]) => {
      const pattern = LABELS[state.lang].condition[k];
      return pattern ? pattern.replace("{n}", n) : `${k} ${n}`;
    }).join(state.lang === "en" ? ", " : "，");
  }

  function renderProjects(items, hidden, down) {
    const box = $("projects");
    if (!items.length) {
      box.replaceChildren(el("p", {class: "muted",
                                   text: down ? `${t("missing")}: ${services(["projects"])}` : t("projects.none")}));
      return;
    }
    box.replaceChildren(...items.map(({project, progress}) => el("article", {class: "project", "data-project": project.id},
      el("h3", {text: project.name}),
      el("p", {class: "meta", text: `${label("project_status", project.status)} · ${t("projects.period")} `
                                    + `${project.starts_on} – ${project.ends_on} · ${project.purchaser}`}),
      ...(progress ? [] : [el("p", {class: "muted", text: `${t("missing")}: ${services(["projects"])}`})]),
      ...(progress?.targets || []).map((target) => {
        const value = target.value;
        const name = label("metric", target.metric);
        const cond = conditionsText(target.conditions);
        const meter = el("progress", {max: String(target.target || 1), value: String(Math.min(value ?? 0, target.target || 1)),
                                      "aria-label": `${name}: ${fmt(value)} / ${fmt(target.target)}`});
        return el("div", {class: "target", "data-metric": target.metric},
          el("span", {text: cond ? (state.lang === "en" ? `${name} (${cond})` : `${name}（${cond}）`) : name,
                      title: rule(target.metric)}),
          meter,
          el("span", {class: "num"}, valueNode({value}, null, 2), ` / ${fmt(target.target)}`),
          el("span", {class: `badge ${target.met ? "met" : "unmet"}`,
                      text: value === null ? t("missing") : t(target.met ? "projects.met" : "projects.unmet")}));
      }))), ...(hidden > 0 ? [el("p", {class: "muted", text: t("projects.more", {n: hidden})})] : []));
  }

  // ---------------------------------------------------------------- start

  async function start() {
    try {
      state.me = (await api("/v1/me")).body;
    } catch (err) {
      if (err.status !== 401) showLogin(err.message);
      return;
    }
    await Promise.all([loadPopulations(), loadLabels(state.lang)]);
    applyTexts();
    $("login-view").hidden = true;
    $("dash-view").hidden = false;
    $("logout").hidden = false;
    $("who").textContent = `${state.me.display_name} · ${label("role", state.me.role)}`;
    const root = {...state.me.station};
    $("tree").replaceChildren(treeItem(root));
    await selectStation(root.id);
    expandNode(document.querySelector("#tree > li")).catch(() => {});
    schedulePoll();
  }

  async function switchLanguage() {
    state.lang = state.lang === "en" ? "zh-CN" : "en";
    localStorage.setItem("haolin.lang", state.lang);
    relabel();
    // The served labels, once they come, replace the built-in ones.
    if (!state.served[state.lang]) {
      await loadLabels(state.lang);
      relabel();
    }
  }

  function relabel() {
    applyTexts();
    for (const pick of document.querySelectorAll("#tree .pick")) {
      const s = state.stations.get(Number(pick.dataset.station));
      if (s) pick.querySelector(".kind").textContent = label("station_kind", s.kind);
    }
    for (const li of document.querySelectorAll("#tree li")) {
      const toggle = toggleOf(li);
      if (!toggle.disabled) setExpanded(li, toggle.getAttribute("aria-expanded") === "true");
    }
    if (state.me) $("who").textContent = `${state.me.display_name} · ${label("role", state.me.role)}`;
    render();
    if (state.station && $("status").textContent) {
      $("status").textContent = t("status.updated", {time: new Date().toLocaleTimeString(state.lang), n: POLL_S});
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    initPeriod();
    applyTexts();
    $("login-form").addEventListener("submit", onLogin);
    $("logout").addEventListener("click", onLogout);
    $("lang").addEventListener("click", () => switchLanguage());
    $("period-kind").addEventListener("change", () => { showPeriodParts(); refresh(true); });
    for (const id of ["p-month", "p-qyear", "p-quarter", "p-year", "p-from", "p-to"]) {
      $(id).addEventListener("change", () => refresh(true));
    }
    $("breakdown-metric").addEventListener("change", () => refresh(true));
    if (auth.access || auth.refresh) start();
    else showLogin();
  });
})();
