// heed /console: the merchandiser's console. Plain JavaScript, no build
// step, nothing from another origin. The page holds no data until GET
// /v1/session says someone with a console role is signed in; every change
// it sends carries the CSRF token of the heed_csrf cookie.
'use strict';

(() => {
  // ---- i18n -------------------------------------------------------------

  const STRINGS = {
    'zh-CN': {
      doc_title: '营销控制台 · heed',
      skip: '跳到主要内容',
      title: '营销控制台',
      nav: '控制台',
      nav_campaigns: '活动',
      nav_new: '新建活动',
      nav_admin: '策略与决策',
      signout: '退出登录',
      lang_other: 'English',
      lang_other_label: 'Switch to English',
      loading: '加载中…',
      signin_h: '登录营销控制台',
      signin_p: '请输入商品运营、营销或管理员的 API 密钥。密钥只用于登录，页面不会保存它。',
      signin_key: 'API 密钥',
      signin_btn: '登录',
      signin_empty: '请输入 API 密钥。',
      signin_unknown: '密钥无效。',
      signin_role: '该密钥的角色不能使用控制台（需要商品运营、营销或管理员密钥）。',
      signin_expired: '会话已过期或无效，请重新登录。',
      signin_wrong_role: '当前会话不能使用控制台，请用控制台密钥登录。',
      role_merchandiser: '商品运营',
      role_marketing: '营销',
      role_admin: '管理员',
      signed_in_as: '已登录：{role}',
      list_h: '营销活动',
      list_empty: '还没有活动。',
      col_name: '名称', col_status: '状态', col_kind: '类型', col_offer: '优惠', col_channels: '渠道', col_updated: '更新时间',
      back_list: '← 返回活动列表',
      form_new: '新建活动',
      form_edit: '编辑活动：{name}',
      summary_h: '请修正以下问题',
      fs_basics: '基本信息',
      f_name: '活动名称', f_kind: '活动类型',
      fs_offer: '优惠',
      f_offer_type: '优惠类型', f_percent: '折扣（减 %）', f_spend: '满（元）', f_amount: '减（元）', f_points: '积分',
      f_code: '券码（可选）', h_code: '字母、数字、- 或 _；带券码的订单计入本活动转化。',
      f_valid_days: '有效天数（可选）', h_valid_days: '自发送起计；留空或 0 为不限。',
      fs_audience: '受众',
      f_regions: '地区（可选）', h_regions: '行政区划代码，逗号分隔；前缀匹配：31 匹配 310000。',
      f_min_tier: '最低会员等级',
      f_categories: '感兴趣的品类（可选）', h_categories: '逗号分隔，满足任一即可。',
      f_touchpoints: '到访过的触点（可选）',
      fs_channels: '渠道（按顺序）',
      h_channels: '勾选允许使用的渠道，并用上移 / 下移排序；每位用户按其渠道偏好从中选一个、在发送时重新确认同意。',
      move_up: '上移：{name}', move_down: '下移：{name}',
      f_touchpoint: '消息触达的触点（可选）',
      fs_schedule: '发送计划',
      f_schedule_mode: '方式', f_mode_cron: '周期（cron）', f_mode_send_at: '一次（日期或时刻）',
      f_cron: 'cron 表达式', h_cron: '五段：分 时 日 月 周，按每位用户的当地时间。',
      f_send_at: '发送日期或时刻', h_send_at: 'YYYY-MM-DD（按当地发送时间）或 RFC 3339 时刻。',
      f_local_time: '当地发送时间（可选）', h_local_time: 'HH:MM；留空为 cron 的时间，或日期的 10:00。',
      f_tz: '默认时区（可选）', h_tz: '用于没有时区的用户；留空为 UTC。',
      f_window: '发送窗口（小时，可选）', h_window: '到期后仍可发送的时长；留空为 12。',
      f_attribution: '归因天数（可选）', h_attribution: '无券码的购买在发送后多少天内计为转化；留空为 7。',
      f_cap_max: '每人上限（可选）', f_cap_per: '上限周期',
      fs_message: '消息',
      h_message: '可用变量：{{.Name}} {{.Offer}} {{.Code}} {{.ValidUntil}} {{.Campaign}}。',
      f_title: '标题', f_body: '正文',
      f_locales: '按语言覆盖（可选）',
      f_zh_title: '中文标题', f_zh_body: '中文正文', f_en_title: '英文标题', f_en_body: '英文正文',
      save: '保存', cancel: '取消', edit: '编辑', activate: '启用', pause: '暂停', end: '结束',
      not_a_number: '请输入数字。',
      saved: '已保存“{name}”。',
      created: '已创建“{name}”（草稿）。',
      stale: '活动已在别处被修改。请重新打开后再编辑。',
      reload: '重新打开',
      confirm_end: '结束后活动不再发送，也不能再启用。确定结束“{name}”吗？',
      transitioned: '“{name}”现在是：{status}。',
      fact_kind: '类型', fact_offer: '优惠', fact_audience: '受众', fact_channels: '渠道', fact_schedule: '计划',
      fact_cap: '每人上限', fact_message: '消息', fact_version: '版本',
      audience_all: '不限',
      cap_none: '每次发送每人一条',
      cap_fmt: '{per}最多 {n} 条',
      sched_local: '当地 {time}',
      sched_tz: '默认时区 {tz}',
      preview_h: '预览受众',
      preview_p: '按此刻的同意与偏好计算，不发送、不记录任何内容。',
      date_opt: '日期（可选，默认每位用户的今天）',
      preview_btn: '预览',
      pv_for: '日期：{date}',
      pv_today: '日期：每位用户的今天',
      pv_audience: '受众', pv_eligible: '可发送', pv_suppressed: '被拦截', pv_deferred: '延后',
      pv_sample: '样本（最多 10 位）',
      col_user: '用户', col_channel: '渠道', col_reason: '原因', col_count: '人数', col_deferred_until: '延后至',
      none: '无',
      run_h: '立即运行',
      run_p: '现在运行一次：按发送时的同意、偏好、频次与免打扰时段逐一决定。',
      run_btn: '立即运行',
      run_started: '已开始运行 {id}；效果会自动刷新。',
      run_blocked: '已暂停或已结束的活动不能运行。',
      stats_h: '效果',
      refresh: '刷新',
      st_sent: '已发送', st_failed: '失败', st_suppressed: '被拦截', st_scheduled: '待发送',
      st_conversions: '转化', st_revenue: '收入', st_rate: '转化率', st_runs: '运行次数', st_audience: '受众（累计）',
      st_suppressed_h: '拦截原因', st_deferred_h: '延后原因', st_channel_h: '按渠道',
      st_chart_h: '每日发送与转化',
      chart_desc: '每天的发送数与转化数（UTC 日期）。',
      chart_empty: '还没有发送或转化。',
      chart_table: '图表数据',
      col_date: '日期', col_sent: '发送', col_failed: '失败', col_conversions: '转化', col_revenue: '收入', col_rate: '转化率',
      deliveries_h: '投递记录',
      dl_filter: '状态',
      dl_empty: '没有投递记录。',
      col_due: '预定时间', col_sent_at: '发送时间', col_decision: '决策 ID', col_consent: '同意记录',
      more: '加载更多',
      admin_h: '策略与决策（只读）',
      policies_h: '生效中的策略',
      revision: '版本：{rev}',
      decisions_h: '最近的决策',
      decisions_na: '此服务器暂不提供决策列表（GET /v1/decisions）。',
      decisions_empty: '还没有决策记录。',
      col_at: '时间', col_path: '规则', col_allow: '结果', col_reasons: '原因',
      allow_yes: '允许', allow_no: '拒绝',
      error_generic: '出错了（{status}）：{detail}',
      error_network: '无法连接到 heed。',
      opt_any: '不限',
      opt_default_tp: '按渠道默认',
      opt_no_cap: '—',
      opt_all: '全部',
    },
    en: {
      doc_title: 'Campaign console · heed',
      skip: 'Skip to main content',
      title: 'Campaign console',
      nav: 'Console',
      nav_campaigns: 'Campaigns',
      nav_new: 'New campaign',
      nav_admin: 'Policies & decisions',
      signout: 'Sign out',
      lang_other: '中文',
      lang_other_label: '切换到中文',
      loading: 'Loading…',
      signin_h: 'Sign in to the console',
      signin_p: 'Enter a merchandiser, marketing or admin API key. It is used only to sign in; the page does not keep it.',
      signin_key: 'API key',
      signin_btn: 'Sign in',
      signin_empty: 'Enter an API key.',
      signin_unknown: 'Unknown key.',
      signin_role: "This key's role cannot use the console (a merchandiser, marketing or admin key is needed).",
      signin_expired: 'The session expired or is not valid; sign in again.',
      signin_wrong_role: 'This session cannot use the console; sign in with a console key.',
      role_merchandiser: 'Merchandiser',
      role_marketing: 'Marketing',
      role_admin: 'Admin',
      signed_in_as: 'Signed in: {role}',
      list_h: 'Campaigns',
      list_empty: 'No campaigns yet.',
      col_name: 'Name', col_status: 'Status', col_kind: 'Kind', col_offer: 'Offer', col_channels: 'Channels', col_updated: 'Updated',
      back_list: '← Back to campaigns',
      form_new: 'New campaign',
      form_edit: 'Edit campaign: {name}',
      summary_h: 'Please fix the following',
      fs_basics: 'Basics',
      f_name: 'Campaign name', f_kind: 'Kind',
      fs_offer: 'Offer',
      f_offer_type: 'Offer type', f_percent: 'Percent off', f_spend: 'Spend (CNY)', f_amount: 'Amount off (CNY)', f_points: 'Points',
      f_code: 'Code (optional)', h_code: "Letters, digits, '-' or '_'; purchases with the code count as this campaign's conversions.",
      f_valid_days: 'Valid days (optional)', h_valid_days: 'From the delivery; empty or 0: no end.',
      fs_audience: 'Audience',
      f_regions: 'Regions (optional)', h_regions: 'Region codes, comma-separated; prefixes match: 31 matches 310000.',
      f_min_tier: 'Minimum tier',
      f_categories: 'Categories of interest (optional)', h_categories: 'Comma-separated; any of them matches.',
      f_touchpoints: 'Seen at touchpoints (optional)',
      fs_channels: 'Channels (in order)',
      h_channels: "Tick the channels the campaign may use and order them with Move up / Move down; each shopper's channel preferences pick one, and consent is checked again at send time.",
      move_up: 'Move up: {name}', move_down: 'Move down: {name}',
      f_touchpoint: 'Touchpoint messages reach (optional)',
      fs_schedule: 'Schedule',
      f_schedule_mode: 'Kind of schedule', f_mode_cron: 'Recurring (cron)', f_mode_send_at: 'Once (date or instant)',
      f_cron: 'Cron expression', h_cron: "Five fields: minute hour day month weekday, on each shopper's local clock.",
      f_send_at: 'Send date or instant', h_send_at: 'YYYY-MM-DD (at the local send time) or an RFC 3339 instant.',
      f_local_time: 'Local send time (optional)', h_local_time: "HH:MM; empty: the cron's time, or 10:00 for a date.",
      f_tz: 'Default time zone (optional)', h_tz: 'For shoppers without one; empty: UTC.',
      f_window: 'Send window in hours (optional)', h_window: 'How long after its due time a message may still go out; empty: 12.',
      f_attribution: 'Attribution days (optional)', h_attribution: 'How long after a delivery a purchase without the code counts as a conversion; empty: 7.',
      f_cap_max: 'Cap per shopper (optional)', f_cap_per: 'Cap period',
      fs_message: 'Message',
      h_message: 'Template values: {{.Name}} {{.Offer}} {{.Code}} {{.ValidUntil}} {{.Campaign}}.',
      f_title: 'Title', f_body: 'Body',
      f_locales: 'Per-language text (optional)',
      f_zh_title: 'Chinese title', f_zh_body: 'Chinese body', f_en_title: 'English title', f_en_body: 'English body',
      save: 'Save', cancel: 'Cancel', edit: 'Edit', activate: 'Activate', pause: 'Pause', end: 'End',
      not_a_number: 'Enter a number.',
      saved: 'Saved “{name}”.',
      created: 'Created “{name}” (draft).',
      stale: 'The campaign was changed elsewhere. Open it again before editing.',
      reload: 'Open again',
      confirm_end: 'An ended campaign sends nothing more and cannot be activated again. End “{name}”?',
      transitioned: '“{name}” is now: {status}.',
      fact_kind: 'Kind', fact_offer: 'Offer', fact_audience: 'Audience', fact_channels: 'Channels', fact_schedule: 'Schedule',
      fact_cap: 'Cap per shopper', fact_message: 'Message', fact_version: 'Version',
      audience_all: 'Everyone of this kind',
      cap_none: 'One per occurrence',
      cap_fmt: 'At most {n} per {per}',
      sched_local: 'local {time}',
      sched_tz: 'default zone {tz}',
      preview_h: 'Preview the audience',
      preview_p: 'Computed from consents and preferences as they are now; nothing is sent or recorded.',
      date_opt: "Date (optional; default: each shopper's today)",
      preview_btn: 'Preview',
      pv_for: 'Date: {date}',
      pv_today: "Date: each shopper's today",
      pv_audience: 'Audience', pv_eligible: 'Eligible', pv_suppressed: 'Suppressed', pv_deferred: 'Deferred',
      pv_sample: 'Sample (up to 10)',
      col_user: 'User', col_channel: 'Channel', col_reason: 'Reason', col_count: 'Shoppers', col_deferred_until: 'Deferred until',
      none: 'None',
      run_h: 'Run now',
      run_p: 'Run one occurrence now: consent, preferences, caps and quiet hours are decided for each shopper at send time.',
      run_btn: 'Run now',
      run_started: 'Run {id} started; the results refresh by themselves.',
      run_blocked: 'A paused or ended campaign cannot run.',
      stats_h: 'Results',
      refresh: 'Refresh',
      st_sent: 'Sent', st_failed: 'Failed', st_suppressed: 'Suppressed', st_scheduled: 'Pending',
      st_conversions: 'Conversions', st_revenue: 'Revenue', st_rate: 'Conversion rate', st_runs: 'Runs', st_audience: 'Audience (all runs)',
      st_suppressed_h: 'Suppressed, by reason', st_deferred_h: 'Deferred, by reason', st_channel_h: 'By channel',
      st_chart_h: 'Sent and conversions per day',
      chart_desc: 'Messages sent and conversions per day (UTC dates).',
      chart_empty: 'Nothing sent or converted yet.',
      chart_table: 'Chart data',
      col_date: 'Date', col_sent: 'Sent', col_failed: 'Failed', col_conversions: 'Conversions', col_revenue: 'Revenue', col_rate: 'Rate',
      deliveries_h: 'Deliveries',
      dl_filter: 'Status',
      dl_empty: 'No deliveries.',
      col_due: 'Due', col_sent_at: 'Sent at', col_decision: 'Decision id', col_consent: 'Consent record',
      more: 'Load more',
      admin_h: 'Policies and decisions (read only)',
      policies_h: 'Active policies',
      revision: 'Revision: {rev}',
      decisions_h: 'Recent decisions',
      decisions_na: 'This server does not list decisions yet (GET /v1/decisions).',
      decisions_empty: 'No decisions logged yet.',
      col_at: 'At', col_path: 'Rule', col_allow: 'Result', col_reasons: 'Reasons',
      allow_yes: 'Allowed', allow_no: 'Denied',
      error_generic: 'Something went wrong ({status}): {detail}',
      error_network: 'Cannot reach heed.',
      opt_any: 'Any',
      opt_default_tp: "The channel's default",
      opt_no_cap: '—',
      opt_all: 'All',
    },
  };

  const ENUMS = {
    'zh-CN': {
      status: { draft: '草稿', active: '进行中', paused: '已暂停', ended: '已结束' },
      kind: { first_purchase: '首单', vip: '会员（VIP）', birthday: '生日', segment: '人群' },
      offer: { discount: '折扣', threshold: '满减', points: '积分', free_shipping: '包邮' },
      channel: { push: '推送', email: '邮件', sms: '短信', inapp: '站内信' },
      touchpoint: { app: 'App', web: '网页', mini_program: '小程序', store: '门店', call_center: '客服中心' },
      tier: { none: '无', silver: '银卡', gold: '金卡', vip: 'VIP' },
      cap_per: { day: '每天', week: '每周', month: '每月', year: '每年', campaign: '整个活动' },
      delivery: { scheduled: '待发送', sending: '发送中', sent: '已发送', suppressed: '已拦截', deferred: '已延后', failed: '失败' },
      reason: {
        no_consent: '未获同意', consent_withdrawn: '已撤回同意', needs_reconsent: '需重新同意', channel_disabled: '渠道已关闭',
        offer_type_opt_out: '不接受此类优惠', frequency_cap: '频次上限', quiet_hours: '免打扰时段', minor: '未成年人',
        erased: '数据已删除', window_passed: '已过发送窗口', campaign_paused: '活动已暂停', campaign_ended: '活动已结束',
      },
    },
    en: {
      status: { draft: 'Draft', active: 'Active', paused: 'Paused', ended: 'Ended' },
      kind: { first_purchase: 'First purchase', vip: 'VIP', birthday: 'Birthday', segment: 'Segment' },
      offer: { discount: 'Discount', threshold: 'Spend & save (满减)', points: 'Points', free_shipping: 'Free shipping' },
      channel: { push: 'Push', email: 'Email', sms: 'SMS', inapp: 'In-app' },
      touchpoint: { app: 'App', web: 'Web', mini_program: 'Mini program', store: 'Store', call_center: 'Call center' },
      tier: { none: 'None', silver: 'Silver', gold: 'Gold', vip: 'VIP' },
      cap_per: { day: 'day', week: 'week', month: 'month', year: 'year', campaign: 'campaign' },
      delivery: { scheduled: 'Scheduled', sending: 'Sending', sent: 'Sent', suppressed: 'Suppressed', deferred: 'Deferred', failed: 'Failed' },
      reason: {
        no_consent: 'No consent', consent_withdrawn: 'Consent withdrawn', needs_reconsent: 'Needs new consent', channel_disabled: 'Channel off',
        offer_type_opt_out: 'Offer type opted out', frequency_cap: 'Frequency cap', quiet_hours: 'Quiet hours', minor: 'Minor',
        erased: 'Erased', window_passed: 'Window passed', campaign_paused: 'Campaign paused', campaign_ended: 'Campaign ended',
      },
    },
  };

  const KINDS = ['first_purchase', 'vip', 'birthday', 'segment'];
  const OFFERS = ['discount', 'threshold', 'points', 'free_shipping'];
  const CHANNELS = ['push', 'email', 'sms', 'inapp'];
  const TOUCHPOINTS = ['app', 'web', 'mini_program', 'store', 'call_center'];
  const TIERS = ['silver', 'gold', 'vip'];
  const CAP_PERIODS = ['day', 'week', 'month', 'year', 'campaign'];
  const DELIVERY_STATUSES = ['scheduled', 'sending', 'sent', 'suppressed', 'deferred', 'failed'];
  const CONSOLE_ROLES = ['merchandiser', 'marketing', 'admin'];

  const LANGS = ['zh-CN', 'en'];
  let lang = 'zh-CN';
  try {
    const saved = localStorage.getItem('heed.console.lang');
    if (LANGS.includes(saved)) lang = saved;
  } catch { /* storage off: the default */ }

  function t(key, vars) {
    let s = STRINGS[lang][key];
    if (s === undefined) s = STRINGS['zh-CN'][key] ?? key;
    if (vars) s = s.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m));
    return s;
  }
  const colon = () => (lang === 'zh-CN' ? '：' : ': ');
  // label names a value of an enum (status, kind, reason...), or the value
  // itself when it has no name.
  function label(group, value) {
    return ENUMS[lang][group]?.[value] ?? value;
  }

  // ---- DOM helpers ------------------------------------------------------

  const $ = (sel, root = document) => root.querySelector(sel);
  const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

  // h builds an element; children are nodes or text (never parsed as HTML).
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k === 'text') el.textContent = v;
      else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? '' : String(v));
    }
    append(el, children);
    return el;
  }
  function append(el, children) {
    for (const c of children.flat()) {
      if (c === undefined || c === null || c === false) continue;
      el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return el;
  }
  const SVGNS = 'http://www.w3.org/2000/svg';
  function s(tag, attrs, ...children) {
    const el = document.createElementNS(SVGNS, tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v !== undefined && v !== null) el.setAttribute(k, String(v));
    }
    for (const c of children.flat()) {
      if (c !== undefined && c !== null) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return el;
  }
  function show(el, on) { el.hidden = !on; }
  function clear(el) { el.replaceChildren(); return el; }

  // ---- formatting -------------------------------------------------------

  const fmtNum = (n) => new Intl.NumberFormat(lang).format(n ?? 0);
  const fmtMoney = (n) => new Intl.NumberFormat(lang, { style: 'currency', currency: 'CNY' }).format(n ?? 0);
  const fmtPct = (r) => new Intl.NumberFormat(lang, { style: 'percent', maximumFractionDigits: 1 }).format(r ?? 0);
  function fmtTime(iso) {
    if (!iso || iso.startsWith('0001-')) return '—';
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return iso;
    return d.toLocaleString(lang, { dateStyle: 'short', timeStyle: 'short' });
  }
  const amount = (n) => new Intl.NumberFormat(lang, { maximumFractionDigits: 2 }).format(n);

  function offerText(o) {
    if (!o) return '';
    const zh = lang === 'zh-CN';
    switch (o.type) {
      case 'discount':
        return zh ? `${amount((100 - (o.percent_off || 0)) / 10)}折` : `${amount(o.percent_off || 0)}% off`;
      case 'threshold':
        return zh ? `满${amount(o.spend || 0)}减${amount(o.amount_off || 0)}` : `Spend ${amount(o.spend || 0)}, save ${amount(o.amount_off || 0)}`;
      case 'points':
        return zh ? `赠 ${amount(o.points || 0)} 积分` : `${amount(o.points || 0)} points`;
      case 'free_shipping':
        return label('offer', 'free_shipping');
      default:
        return o.type || '';
    }
  }
  const channelsText = (chs) => (chs || []).map((c) => label('channel', c)).join(' → ');

  // ---- API --------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, problem) {
      super((problem && (problem.detail || problem.title)) || `HTTP ${status}`);
      this.status = status;
      this.problem = problem || { status, errors: [] };
    }
  }

  function csrfToken() {
    for (const part of document.cookie.split(';')) {
      const [k, ...v] = part.trim().split('=');
      if (k === 'heed_csrf') return decodeURIComponent(v.join('='));
    }
    return '';
  }

  // api calls heed with the session cookie; body undefined sends none.
  async function api(method, path, body, extraHeaders) {
    const headers = { Accept: 'application/json, application/problem+json', ...(extraHeaders || {}) };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (method !== 'GET' && method !== 'HEAD') {
      const tok = csrfToken();
      if (tok) headers['X-CSRF-Token'] = tok;
    }
    let res;
    try {
      res = await fetch(path, {
        method, headers, credentials: 'same-origin', cache: 'no-store',
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (e) {
      throw new ApiError(0, { title: t('error_network'), detail: t('error_network'), errors: [] });
    }
    const text = await res.text();
    let data = null;
    if (text) {
      try { data = JSON.parse(text); } catch { data = null; }
    }
    if (!res.ok) {
      const err = new ApiError(res.status, data);
      if (res.status === 401 && path.startsWith('/v1/') && state.role) {
        signedOut(t('signin_expired'));
      }
      throw err;
    }
    return data;
  }

  function problemText(err) {
    const p = err.problem || {};
    const parts = [p.detail || p.title || err.message];
    for (const e of p.errors || []) parts.push(`${e.field}: ${e.message}`);
    return t('error_generic', { status: err.status || '—', detail: parts.filter(Boolean).join('; ') });
  }

  // ---- state and views --------------------------------------------------

  const state = {
    role: '',
    campaign: null, // the campaign shown or edited
    editing: null, // id being edited, or null for a new one
    statsTimers: [],
    lastStats: null,
    lastPreview: null,
    keepFlash: false,
    dlCursor: '',
  };

  const VIEWS = ['view-signin', 'view-list', 'view-form', 'view-detail', 'view-admin'];
  function showView(id, focus = true) {
    $('#c-loading').hidden = true;
    for (const v of VIEWS) show($('#' + v), v === id);
    if (focus) {
      const head = $('#' + id + ' h1');
      if (head) head.focus({ preventScroll: false });
    }
    for (const a of $$('#c-nav a')) {
      const cur = (id === 'view-list' && a.id === 'nav-list') || (id === 'view-admin' && a.id === 'nav-admin') ||
        (id === 'view-form' && !state.editing && a.id === 'nav-new');
      if (cur) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    }
  }

  function flash(msg, kind) {
    const el = $('#c-flash');
    el.className = 'c-flash' + (kind ? ' c-flash-' + kind : '');
    el.textContent = msg || '';
  }

  function stopTimers() {
    for (const id of state.statsTimers) clearTimeout(id);
    state.statsTimers = [];
  }

  // resetData removes everything the API returned from the page.
  function resetData() {
    stopTimers();
    state.campaign = null;
    state.editing = null;
    state.lastStats = null;
    state.lastPreview = null;
    for (const sel of ['#list-body', '#d-facts', '#pv-result', '#st-result', '#dl-result', '#pol-result', '#dec-result', '#form-summary-list']) {
      clear($(sel));
    }
    $('#d-name').textContent = '';
    $('#d-status').textContent = '';
    $('#run-result').textContent = '';
    $('#cform').reset();
    flash('');
  }

  // ---- sign-in ----------------------------------------------------------

  function signedOut(message) {
    state.role = '';
    resetData();
    show($('#c-nav'), false);
    show($('#c-role'), false);
    show($('#signout'), false);
    $('#c-role').textContent = '';
    const err = $('#signin-error');
    err.textContent = message || '';
    show(err, !!message);
    showView('view-signin', false);
    $('#signin-key').focus();
  }

  function signedIn(role) {
    state.role = role;
    $('#c-role').textContent = t('signed_in_as', { role: t('role_' + role) });
    show($('#c-role'), true);
    show($('#signout'), true);
    show($('#c-nav'), true);
    show($('#nav-admin'), role === 'admin');
    $('#signin-error').hidden = true;
    route();
  }

  async function checkSession() {
    try {
      const s = await api('GET', '/v1/session');
      if (s && CONSOLE_ROLES.includes(s.role)) signedIn(s.role);
      else signedOut(t('signin_wrong_role'));
    } catch (e) {
      signedOut(e.status === 401 || e.status === 403 ? '' : problemText(e));
    }
  }

  async function signIn(ev) {
    ev.preventDefault();
    const input = $('#signin-key');
    const key = input.value.trim();
    const err = $('#signin-error');
    if (!key) {
      err.textContent = t('signin_empty');
      err.hidden = false;
      input.setAttribute('aria-invalid', 'true');
      input.focus();
      return;
    }
    const btn = $('#signin-submit');
    btn.disabled = true;
    try {
      await api('POST', '/console/session', { key });
      input.value = '';
      input.removeAttribute('aria-invalid');
      const s = await api('GET', '/v1/session');
      if (!CONSOLE_ROLES.includes(s.role)) throw new ApiError(403, null);
      signedIn(s.role);
    } catch (e) {
      input.value = '';
      input.setAttribute('aria-invalid', 'true');
      err.textContent = e.status === 401 ? t('signin_unknown') : e.status === 403 ? t('signin_role') : problemText(e);
      err.hidden = false;
      input.focus();
    } finally {
      btn.disabled = false;
    }
  }

  async function signOut() {
    try {
      await api('POST', '/session/delete');
    } catch { /* the cookies go either way below */ }
    resetData();
    // A fresh load: nothing the session showed stays in the page.
    location.replace('/console');
  }

  // ---- routing ----------------------------------------------------------

  function route() {
    if (!state.role) return;
    stopTimers();
    if (state.keepFlash) state.keepFlash = false;
    else flash('');
    const hash = location.hash.replace(/^#/, '') || '/';
    let m;
    if (hash === '/' || hash === '') {
      loadList();
    } else if (hash === '/new') {
      openForm(null);
    } else if ((m = hash.match(/^\/c\/([^/]+)\/edit$/))) {
      openForm(decodeURIComponent(m[1]));
    } else if ((m = hash.match(/^\/c\/([^/]+)$/))) {
      openDetail(decodeURIComponent(m[1]));
    } else if (hash === '/admin' && state.role === 'admin') {
      openAdmin();
    } else {
      location.hash = '#/';
    }
  }

  function go(hash) {
    state.keepFlash = true;
    if (location.hash === hash) route();
    else location.hash = hash;
  }

  // ---- campaign list ----------------------------------------------------

  async function loadList() {
    showView('view-list');
    let out;
    try {
      out = await api('GET', '/v1/campaigns');
    } catch (e) {
      if (state.role) flash(problemText(e), 'error');
      return;
    }
    const list = (out.campaigns || []).slice().reverse(); // newest first
    const body = clear($('#list-body'));
    for (const c of list) {
      body.append(h('tr', { 'data-id': c.id },
        h('th', { scope: 'row' }, h('a', { href: '#/c/' + encodeURIComponent(c.id) }, c.name)),
        h('td', {}, statusBadge(c.status)),
        h('td', {}, label('kind', c.kind)),
        h('td', {}, offerText(c.offer)),
        h('td', {}, channelsText(c.channels)),
        h('td', {}, fmtTime(c.updated_at))));
    }
    show($('#list-empty'), list.length === 0);
    show($('#list-wrap'), list.length > 0);
  }

  function statusBadge(status) {
    return h('span', { class: 'c-badge c-status-' + status }, label('status', status));
  }

  // ---- create and edit --------------------------------------------------

  let chOrder = CHANNELS.slice();

  function buildChannelList(checked) {
    const ol = clear($('#f-channels'));
    chOrder.forEach((ch, i) => {
      const id = 'f-ch-' + ch;
      const name = label('channel', ch);
      ol.append(h('li', { class: 'c-channel' },
        h('label', { class: 'c-check', for: id },
          h('input', { type: 'checkbox', id, value: ch, checked: checked.has(ch) }), ' ', name),
        h('span', { class: 'c-order' },
          h('button', { type: 'button', class: 'c-btn c-btn-small', 'data-move': ch, 'data-dir': '-1', disabled: i === 0,
            'aria-label': t('move_up', { name }), title: t('move_up', { name }) }, '↑'),
          h('button', { type: 'button', class: 'c-btn c-btn-small', 'data-move': ch, 'data-dir': '1', disabled: i === chOrder.length - 1,
            'aria-label': t('move_down', { name }), title: t('move_down', { name }) }, '↓'))));
    });
  }
  function checkedChannels() {
    return new Set($$('#f-channels input[type=checkbox]').filter((x) => x.checked).map((x) => x.value));
  }
  function moveChannel(ch, dir) {
    const i = chOrder.indexOf(ch);
    const j = i + dir;
    if (i < 0 || j < 0 || j >= chOrder.length) return;
    const checked = checkedChannels();
    [chOrder[i], chOrder[j]] = [chOrder[j], chOrder[i]];
    buildChannelList(checked);
    // Keep the focus on the moved channel's button (or its partner at an end).
    const btn = $(`#f-channels button[data-move="${ch}"][data-dir="${dir}"]`);
    (btn && !btn.disabled ? btn : $(`#f-channels button[data-move="${ch}"]:not([disabled])`))?.focus();
  }

  function buildTouchpoints(checked) {
    const box = clear($('#f-touchpoints-list'));
    for (const tp of TOUCHPOINTS) {
      const id = 'f-tp-' + tp;
      box.append(h('label', { class: 'c-check', for: id },
        h('input', { type: 'checkbox', id, value: tp, checked: checked.has(tp) }), ' ', label('touchpoint', tp)));
    }
  }

  function syncOfferFields() {
    const type = $('#f-offer-type').value;
    for (const el of $$('#cform [data-offer]')) show(el, el.dataset.offer === type);
  }
  function scheduleMode() {
    return $('#f-mode-send-at').checked ? 'send_at' : 'cron';
  }
  function syncScheduleFields() {
    const mode = scheduleMode();
    for (const el of $$('#cform [data-mode]')) show(el, el.dataset.mode === mode);
  }

  const listValue = (v) => v.split(/[,，、\s]+/).map((x) => x.trim()).filter(Boolean);

  function fillForm(c) {
    const f = $('#cform');
    f.reset();
    const o = c?.offer || {};
    const a = c?.audience || {};
    const sc = c?.schedule || {};
    const m = c?.message || {};
    const loc = m.locales || {};
    const set = (sel, v) => { $(sel).value = v === undefined || v === null ? '' : String(v); };
    set('#f-name', c?.name);
    set('#f-kind', c?.kind || KINDS[0]);
    set('#f-offer-type', o.type || OFFERS[0]);
    set('#f-percent', o.percent_off || '');
    set('#f-spend', o.spend || '');
    set('#f-amount', o.amount_off || '');
    set('#f-points', o.points || '');
    set('#f-code', o.code);
    set('#f-valid-days', o.valid_days || '');
    set('#f-regions', (a.regions || []).join(', '));
    set('#f-min-tier', a.min_tier && a.min_tier !== 'none' ? a.min_tier : '');
    set('#f-categories', (a.categories || []).join(', '));
    buildTouchpoints(new Set(a.touchpoints || []));
    const chs = c?.channels || [];
    chOrder = chs.concat(CHANNELS.filter((x) => !chs.includes(x)));
    buildChannelList(new Set(chs));
    set('#f-touchpoint', c?.touchpoint);
    $('#f-mode-send-at').checked = !!sc.send_at;
    $('#f-mode-cron').checked = !sc.send_at;
    set('#f-cron', c ? sc.cron : '0 10 * * *');
    set('#f-send-at', sc.send_at);
    set('#f-local-time', c?.local_send_time);
    set('#f-tz', c ? c.time_zone : 'Asia/Shanghai');
    set('#f-window', c?.window_hours || '');
    set('#f-attribution', c?.attribution_days || '');
    set('#f-cap-max', c?.cap?.max_per_user || '');
    set('#f-cap-per', c?.cap?.per);
    set('#f-title', m.title);
    set('#f-body', m.body);
    set('#f-zh-title', loc['zh-CN']?.title);
    set('#f-zh-body', loc['zh-CN']?.body);
    set('#f-en-title', loc.en?.title);
    set('#f-en-body', loc.en?.body);
    $('#f-locales').open = !!(loc['zh-CN'] || loc.en);
    syncOfferFields();
    syncScheduleFields();
  }

  // readForm returns the campaign the form describes, or null after marking
  // the number fields that do not hold a number.
  function readForm() {
    const val = (sel) => $(sel).value.trim();
    const bad = [];
    const num = (sel, field) => {
      const el = $(sel);
      if (el.validity && el.validity.badInput) {
        bad.push({ field, message: t('not_a_number') });
        return undefined;
      }
      const v = el.value.trim();
      return v === '' ? undefined : Number(v);
    };
    const type = $('#f-offer-type').value;
    const offer = { type };
    if (type === 'discount') offer.percent_off = num('#f-percent', 'offer.percent_off');
    if (type === 'threshold') {
      offer.spend = num('#f-spend', 'offer.spend');
      offer.amount_off = num('#f-amount', 'offer.amount_off');
    }
    if (type === 'points') offer.points = num('#f-points', 'offer.points');
    if (val('#f-code')) offer.code = val('#f-code');
    offer.valid_days = num('#f-valid-days', 'offer.valid_days');

    const audience = {};
    const regions = listValue(val('#f-regions'));
    if (regions.length) audience.regions = regions;
    if (val('#f-min-tier')) audience.min_tier = val('#f-min-tier');
    const cats = listValue(val('#f-categories'));
    if (cats.length) audience.categories = cats;
    const tps = $$('#f-touchpoints-list input').filter((x) => x.checked).map((x) => x.value);
    if (tps.length) audience.touchpoints = tps;

    const checked = checkedChannels();
    const c = {
      name: val('#f-name'),
      kind: $('#f-kind').value,
      offer,
      audience,
      channels: chOrder.filter((x) => checked.has(x)),
      schedule: scheduleMode() === 'cron' ? { cron: val('#f-cron') } : { send_at: val('#f-send-at') },
      message: { title: $('#f-title').value, body: $('#f-body').value },
    };
    if (val('#f-touchpoint')) c.touchpoint = val('#f-touchpoint');
    if (val('#f-local-time')) c.local_send_time = val('#f-local-time');
    if (val('#f-tz')) c.time_zone = val('#f-tz');
    c.window_hours = num('#f-window', 'window_hours');
    c.attribution_days = num('#f-attribution', 'attribution_days');
    const capMax = num('#f-cap-max', 'cap.max_per_user');
    if (capMax !== undefined || val('#f-cap-per')) {
      c.cap = {};
      if (capMax !== undefined) c.cap.max_per_user = capMax;
      if (val('#f-cap-per')) c.cap.per = val('#f-cap-per');
    }
    const locales = {};
    for (const [tag, pre] of [['zh-CN', 'zh'], ['en', 'en']]) {
      const title = $(`#f-${pre}-title`).value;
      const body = $(`#f-${pre}-body`).value;
      if (title.trim() || body.trim()) locales[tag] = { title, body };
    }
    if (Object.keys(locales).length) c.message.locales = locales;
    if (bad.length) {
      showProblems($('#cform'), { errors: bad });
      return null;
    }
    return JSON.parse(JSON.stringify(c)); // drops the undefined members
  }

  // ---- field errors -----------------------------------------------------

  function clearProblems(form) {
    for (const el of $$('.c-field-error', form)) el.remove();
    for (const el of $$('[aria-invalid]', form)) el.removeAttribute('aria-invalid');
    for (const el of $$('[data-err-described]', form)) {
      const ids = (el.getAttribute('aria-describedby') || '').split(/\s+/).filter((x) => x && !x.startsWith('err-'));
      if (ids.length) el.setAttribute('aria-describedby', ids.join(' '));
      else el.removeAttribute('aria-describedby');
      el.removeAttribute('data-err-described');
    }
    for (const el of $$('.c-invalid', form)) el.classList.remove('c-invalid');
    const sum = $('.c-summary', form);
    if (sum) {
      sum.hidden = true;
      clear($('ul', sum));
    }
  }

  // fieldFor finds the element of root that shows field path (such as
  // "audience.regions[2]" or "message.locales.en.body"): the path itself,
  // then without indexes, then its parents.
  function fieldFor(root, path) {
    let p = String(path || '').replace(/\[\d+\]/g, '');
    while (p) {
      const el = root.querySelector(`[data-field="${CSS.escape(p)}"]`);
      if (el) {
        // Open a closed <details> around it; a field hidden for another
        // offer type or schedule cannot show its error.
        const det = el.closest('details');
        if (det) det.open = true;
        if (el.closest('[hidden]')) return null;
        return el;
      }
      const dot = p.lastIndexOf('.');
      p = dot > 0 ? p.slice(0, dot) : '';
    }
    return null;
  }

  // fieldName is the visible name of a field box: its label or legend.
  function fieldName(box) {
    const l = box.tagName === 'FIELDSET' ? $(':scope > legend', box) : $(':scope > label', box);
    return l ? l.textContent.trim() : '';
  }

  let errSeq = 0;
  // showProblems puts each error of problem next to its field in form and
  // lists every one in the form's summary, if it has one; errors that name
  // no field of the form go only to the summary (or to the flash).
  function showProblems(form, problem) {
    const errors = (problem.errors || []).slice();
    if (!errors.length) errors.push({ field: '', message: problem.detail || problem.title || t('error_generic', { status: problem.status, detail: '' }) });
    const sum = $('.c-summary', form);
    const list = sum ? $('ul', sum) : null;
    let first = null;
    const loose = [];
    for (const e of errors) {
      const box = e.field ? fieldFor(form, e.field) : null;
      if (!box) {
        loose.push(e);
        if (list) list.append(h('li', {}, e.field ? `${e.field}: ${e.message}` : e.message));
        continue;
      }
      const id = 'err-' + (++errSeq);
      const base = box.dataset.field;
      const msg = e.field === base ? e.message : `${e.field}: ${e.message}`;
      const p = h('p', { class: 'c-field-error', id, 'data-for': e.field }, msg);
      const legend = box.tagName === 'FIELDSET' ? $(':scope > legend', box) : null;
      if (legend) legend.after(p);
      else box.append(p);
      box.classList.add('c-invalid');
      const controls = $$('input,select,textarea', box).filter((x) => !x.closest('[hidden]'));
      // A single field (or a group of checkboxes) marks its controls
      // invalid; a section (the channels, the schedule) describes itself.
      const single = box.classList.contains('c-field');
      const described = single ? controls : [box];
      for (const c of described) {
        if (single) c.setAttribute('aria-invalid', 'true');
        c.setAttribute('aria-describedby', ((c.getAttribute('aria-describedby') || '') + ' ' + id).trim());
        c.setAttribute('data-err-described', '');
      }
      if (list) {
        const target = controls[0] || box;
        if (!target.id) target.id = 'fld-' + errSeq;
        const name = fieldName(box);
        list.append(h('li', {}, h('a', { href: '#' + target.id, 'data-focus': target.id }, name ? name + colon() + msg : msg)));
        if (!first) first = target;
      } else if (!first) {
        first = controls[0] || box;
      }
    }
    if (sum) {
      sum.hidden = false;
      sum.focus();
    } else if (loose.length) {
      flash(loose.map((e) => (e.field ? `${e.field}: ${e.message}` : e.message)).join('; '), 'error');
      if (first) first.focus();
    } else if (first) {
      first.focus();
    }
  }

  async function openForm(id) {
    state.editing = id;
    clearProblems($('#cform'));
    flash('');
    if (!id) {
      state.campaign = null;
      $('#form-h').textContent = t('form_new');
      $('#f-cancel').setAttribute('href', '#/');
      fillForm(null);
      showView('view-form');
      return;
    }
    let c;
    try {
      c = await api('GET', '/v1/campaigns/' + encodeURIComponent(id));
    } catch (e) {
      if (state.role) flash(problemText(e), 'error');
      return;
    }
    state.campaign = c;
    $('#form-h').textContent = t('form_edit', { name: c.name });
    $('#f-cancel').setAttribute('href', '#/c/' + encodeURIComponent(id));
    fillForm(c);
    showView('view-form');
  }

  async function submitForm(ev) {
    ev.preventDefault();
    const form = $('#cform');
    clearProblems(form);
    flash('');
    const body = readForm();
    if (!body) return;
    const btn = $('#f-submit');
    btn.disabled = true;
    form.setAttribute('aria-busy', 'true');
    try {
      let c;
      if (state.editing) {
        c = await api('PUT', '/v1/campaigns/' + encodeURIComponent(state.editing), body,
          { 'If-Match': String(state.campaign?.version ?? '') });
        flash(t('saved', { name: c.name }), 'ok');
      } else {
        c = await api('POST', '/v1/campaigns', body);
        flash(t('created', { name: c.name }), 'ok');
      }
      state.editing = null;
      go('#/c/' + encodeURIComponent(c.id));
    } catch (e) {
      if (!state.role) return;
      if (e.status === 412) {
        const sum = $('#form-summary');
        const list = clear($('#form-summary-list'));
        list.append(h('li', {}, t('stale'), ' ',
          h('a', { href: '#/c/' + encodeURIComponent(state.editing) + '/edit', onclick: (x) => { x.preventDefault(); openForm(state.editing); } }, t('reload'))));
        sum.hidden = false;
        sum.focus();
      } else {
        showProblems(form, e.problem);
      }
    } finally {
      btn.disabled = false;
      form.removeAttribute('aria-busy');
    }
  }

  // ---- one campaign -----------------------------------------------------

  async function openDetail(id) {
    let c;
    try {
      c = await api('GET', '/v1/campaigns/' + encodeURIComponent(id));
    } catch (e) {
      if (state.role) {
        flash(problemText(e), 'error');
        go('#/');
      }
      return;
    }
    if (!state.campaign || state.campaign.id !== c.id) {
      state.lastPreview = null;
      state.lastStats = null;
      clear($('#pv-result'));
      clear($('#st-result'));
      clear($('#dl-result'));
      $('#run-result').textContent = '';
      $('#pv-date').value = '';
      $('#run-date').value = '';
      $('#dl-status').value = '';
    }
    state.campaign = c;
    renderDetail();
    showView('view-detail');
    loadStats();
    loadDeliveries(true);
  }

  function renderDetail() {
    const c = state.campaign;
    if (!c) return;
    $('#d-name').textContent = c.name;
    const st = $('#d-status');
    st.className = 'c-badge c-status-' + c.status;
    st.textContent = label('status', c.status);
    const a = c.audience || {};
    const aud = [];
    if (a.regions?.length) aud.push(a.regions.join(', '));
    if (a.min_tier) aud.push('≥ ' + label('tier', a.min_tier));
    if (a.categories?.length) aud.push(a.categories.join(', '));
    if (a.touchpoints?.length) aud.push(a.touchpoints.map((x) => label('touchpoint', x)).join(', '));
    const sc = c.schedule || {};
    const sched = [sc.cron ? `cron ${sc.cron}` : sc.send_at];
    if (c.local_send_time) sched.push(t('sched_local', { time: c.local_send_time }));
    if (c.time_zone) sched.push(t('sched_tz', { tz: c.time_zone }));
    const cap = c.cap && c.cap.max_per_user ? t('cap_fmt', { n: c.cap.max_per_user, per: label('cap_per', c.cap.per) }) : t('cap_none');
    const facts = [
      ['fact_kind', label('kind', c.kind)],
      ['fact_offer', offerText(c.offer) + (c.offer?.code ? ` · ${c.offer.code}` : '')],
      ['fact_audience', aud.length ? aud.join(' · ') : t('audience_all')],
      ['fact_channels', channelsText(c.channels)],
      ['fact_schedule', sched.filter(Boolean).join(' · ')],
      ['fact_cap', cap],
      ['fact_message', c.message?.title || ''],
      ['fact_version', String(c.version)],
    ];
    const dl = clear($('#d-facts'));
    for (const [k, v] of facts) dl.append(h('div', {}, h('dt', {}, t(k)), h('dd', {}, v)));
    $('#d-edit').setAttribute('href', '#/c/' + encodeURIComponent(c.id) + '/edit');
    show($('#d-edit'), c.status !== 'ended');
    show($('#d-activate'), c.status === 'draft' || c.status === 'paused');
    show($('#d-pause'), c.status === 'active');
    show($('#d-end'), c.status !== 'ended');
    const canRun = c.status === 'draft' || c.status === 'active';
    $('#run-submit').disabled = !canRun;
    $('#run-date').disabled = !canRun;
    const note = $('#run-result');
    if (!canRun) note.textContent = t('run_blocked');
    else if (note.dataset.blocked) note.textContent = '';
    if (canRun) delete note.dataset.blocked;
    else note.dataset.blocked = '1';
  }

  async function transition(action) {
    const c = state.campaign;
    if (!c) return;
    if (action === 'end' && !window.confirm(t('confirm_end', { name: c.name }))) return;
    const btn = $('#d-' + action);
    btn.disabled = true;
    try {
      const out = await api('POST', `/v1/campaigns/${encodeURIComponent(c.id)}/${action}`);
      state.campaign = out;
      renderDetail();
      flash(t('transitioned', { name: out.name, status: label('status', out.status) }), 'ok');
      // Keep the focus on a button that is still there.
      const next = $$('#d-actions .c-btn').find((x) => !x.hidden && !x.disabled && x.tagName === 'BUTTON');
      (btn.hidden ? next || $('#d-name') : btn).focus();
    } catch (e) {
      if (state.role) flash(problemText(e), 'error');
    } finally {
      btn.disabled = false;
    }
  }

  function dateBody(sel) {
    const v = $(sel).value;
    return v ? { date: v } : undefined;
  }

  async function preview(ev) {
    ev.preventDefault();
    const c = state.campaign;
    if (!c) return;
    const form = $('#pv-form');
    clearProblems(form);
    const btn = $('#pv-submit');
    btn.disabled = true;
    const out = $('#pv-result');
    out.setAttribute('aria-busy', 'true');
    try {
      const body = dateBody('#pv-date');
      const pv = await api('POST', `/v1/campaigns/${encodeURIComponent(c.id)}/preview`, body);
      state.lastPreview = pv;
      renderPreview(pv);
    } catch (e) {
      if (!state.role) return;
      if (e.status === 400) showProblems(form, e.problem);
      else flash(problemText(e), 'error');
    } finally {
      btn.disabled = false;
      out.removeAttribute('aria-busy');
    }
  }

  const sum = (m) => Object.values(m || {}).reduce((a, b) => a + b, 0);

  function kpis(items, idPrefix) {
    return h('dl', { class: 'c-kpis' }, items.map(([key, value, id]) =>
      h('div', { class: 'c-kpi' }, h('dt', {}, t(key)), h('dd', { id: id ? idPrefix + id : undefined }, value))));
  }

  function reasonTable(counts, caption, id) {
    const rows = Object.entries(counts || {}).filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1]);
    if (!rows.length) return h('p', { class: 'c-muted', id }, caption + colon() + t('none'));
    return h('table', { class: 'c-table c-table-compact', id },
      h('caption', {}, caption),
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, t('col_reason')), h('th', { scope: 'col', class: 'c-num' }, t('col_count')))),
      h('tbody', {}, rows.map(([r, n]) => h('tr', { 'data-reason': r }, h('th', { scope: 'row' }, label('reason', r)), h('td', { class: 'c-num' }, fmtNum(n))))));
  }

  function scroll(table, labelText) {
    return h('div', { class: 'c-scroll', role: 'region', 'aria-label': labelText, tabindex: '0' }, table);
  }

  function renderPreview(pv) {
    const out = clear($('#pv-result'));
    out.append(
      h('p', { class: 'c-note', id: 'pv-date-note' }, pv.date ? t('pv_for', { date: pv.date }) : t('pv_today')),
      kpis([
        ['pv_audience', fmtNum(pv.audience), 'audience'],
        ['pv_eligible', fmtNum(pv.eligible), 'eligible'],
        ['pv_suppressed', fmtNum(sum(pv.suppressed)), 'suppressed'],
        ['pv_deferred', fmtNum(sum(pv.deferred)), 'deferred'],
      ], 'pv-'),
      h('div', { class: 'c-two' },
        reasonTable(pv.suppressed, t('pv_suppressed'), 'pv-suppressed-table'),
        reasonTable(pv.deferred, t('pv_deferred'), 'pv-deferred-table')));
    const sample = pv.sample || [];
    if (sample.length) {
      out.append(scroll(h('table', { class: 'c-table c-table-compact', id: 'pv-sample' },
        h('caption', {}, t('pv_sample')),
        h('thead', {}, h('tr', {},
          h('th', { scope: 'col' }, t('col_user')), h('th', { scope: 'col' }, t('col_channel')),
          h('th', { scope: 'col' }, t('col_reason')), h('th', { scope: 'col' }, t('col_deferred_until')))),
        h('tbody', {}, sample.map((x) => h('tr', {},
          h('td', {}, h('code', {}, x.user_id)), h('td', {}, x.channel ? label('channel', x.channel) : '—'),
          h('td', {}, x.reason ? label('reason', x.reason) : '—'), h('td', {}, x.deferred_until ? fmtTime(x.deferred_until) : '—'))))),
      t('pv_sample')));
    }
  }

  async function runNow(ev) {
    ev.preventDefault();
    const c = state.campaign;
    if (!c) return;
    const form = $('#run-form');
    clearProblems(form);
    const btn = $('#run-submit');
    btn.disabled = true;
    try {
      const r = await api('POST', `/v1/campaigns/${encodeURIComponent(c.id)}/run`, dateBody('#run-date'));
      $('#run-result').textContent = t('run_started', { id: r.run_id });
      stopTimers();
      // Planning and sending are asynchronous: look again a few times.
      for (const ms of [700, 1500, 2500, 3500, 4500, 6000, 8000, 11000, 15000, 20000, 30000]) {
        state.statsTimers.push(setTimeout(() => { loadStats(); loadDeliveries(true); }, ms));
      }
    } catch (e) {
      if (!state.role) return;
      if (e.status === 400) showProblems(form, e.problem);
      else $('#run-result').textContent = problemText(e);
    } finally {
      btn.disabled = !(state.campaign?.status === 'draft' || state.campaign?.status === 'active');
    }
  }

  // ---- results ----------------------------------------------------------

  async function loadStats() {
    const c = state.campaign;
    if (!c) return;
    let st;
    try {
      st = await api('GET', `/v1/campaigns/${encodeURIComponent(c.id)}/stats`);
    } catch (e) {
      if (state.role) clear($('#st-result')).append(h('p', { class: 'c-error' }, problemText(e)));
      return;
    }
    if (state.campaign?.id !== c.id) return;
    state.lastStats = st;
    renderStats(st);
  }

  function renderStats(st) {
    const out = clear($('#st-result'));
    out.append(kpis([
      ['st_sent', fmtNum(st.sent), 'sent'],
      ['st_failed', fmtNum(st.failed), 'failed'],
      ['st_suppressed', fmtNum(sum(st.suppressed)), 'suppressed'],
      ['st_scheduled', fmtNum(st.scheduled), 'scheduled'],
      ['st_conversions', fmtNum(st.conversions), 'conversions'],
      ['st_revenue', fmtMoney(st.revenue), 'revenue'],
      ['st_rate', fmtPct(st.conversion_rate), 'rate'],
      ['st_runs', fmtNum(st.runs), 'runs'],
      ['st_audience', fmtNum(st.audience), 'audience'],
    ], 'st-'));
    out.append(h('div', { class: 'c-two' },
      reasonTable(st.suppressed, t('st_suppressed_h'), 'st-suppressed-table'),
      reasonTable(st.deferred, t('st_deferred_h'), 'st-deferred-table')));

    const chans = Object.entries(st.by_channel || {});
    if (chans.length) {
      out.append(scroll(h('table', { class: 'c-table c-table-compact', id: 'st-channels' },
        h('caption', {}, t('st_channel_h')),
        h('thead', {}, h('tr', {}, ['col_channel', 'col_sent', 'col_failed', 'col_conversions', 'col_revenue', 'col_rate']
          .map((k, i) => h('th', { scope: 'col', class: i ? 'c-num' : undefined }, t(k))))),
        h('tbody', {}, chans.map(([ch, v]) => h('tr', { 'data-channel': ch },
          h('th', { scope: 'row' }, label('channel', ch)),
          h('td', { class: 'c-num' }, fmtNum(v.sent)), h('td', { class: 'c-num' }, fmtNum(v.failed)),
          h('td', { class: 'c-num' }, fmtNum(v.conversions)), h('td', { class: 'c-num' }, fmtMoney(v.revenue)),
          h('td', { class: 'c-num' }, fmtPct(v.conversion_rate)))))), t('st_channel_h')));
    }
    out.append(h('div', { id: 'st-chart-box' }));
    drawChart(st.by_day || []);
  }

  // niceStep rounds a raw axis step up to 1, 2 or 5 times a power of ten.
  function niceStep(raw) {
    const p = Math.pow(10, Math.floor(Math.log10(Math.max(raw, 1e-9))));
    for (const m of [1, 2, 5, 10]) if (raw <= m * p) return Math.max(1, m * p);
    return 10 * p;
  }

  // drawChart draws sent and conversions per day as grouped bars, in SVG.
  function drawChart(days) {
    const box = $('#st-chart-box');
    if (!box) return;
    clear(box);
    const fig = h('figure', { class: 'c-chart', id: 'st-chart' });
    box.append(h('h3', {}, t('st_chart_h')), fig);
    if (!days.length) {
      fig.append(h('p', { class: 'c-muted' }, t('chart_empty')));
      return;
    }
    const W = Math.max(300, Math.min(1200, Math.floor(box.clientWidth || 600)));
    const H = 240;
    const m = { l: 44, r: 12, t: 14, b: 40 };
    const pw = W - m.l - m.r;
    const ph = H - m.t - m.b;
    const top = Math.max(1, ...days.map((d) => Math.max(d.sent || 0, d.conversions || 0)));
    const step = niceStep(top / 4);
    const ymax = Math.ceil(top / step) * step;
    const y = (v) => m.t + ph - (v / ymax) * ph;
    const band = pw / days.length;
    const bw = Math.max(2, Math.min(28, band * 0.36));
    const titleId = 'st-chart-title';
    const descId = 'st-chart-desc';
    const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: 'img', 'aria-labelledby': `${titleId} ${descId}`, class: 'c-chart-svg' },
      s('title', { id: titleId }, t('st_chart_h')),
      s('desc', { id: descId }, t('chart_desc') + ' ' + days.map((d) =>
        `${d.date}: ${t('col_sent')} ${d.sent}, ${t('col_conversions')} ${d.conversions}`).join('; ')));
    for (let v = 0; v <= ymax; v += step) {
      svg.append(s('line', { class: 'c-grid-line', x1: m.l, x2: W - m.r, y1: y(v), y2: y(v) }));
      svg.append(s('text', { class: 'c-axis', x: m.l - 6, y: y(v) + 4, 'text-anchor': 'end' }, fmtNum(v)));
    }
    const every = Math.max(1, Math.ceil(days.length / Math.max(1, Math.floor(pw / 52))));
    days.forEach((d, i) => {
      const cx = m.l + band * i + band / 2;
      const sent = d.sent || 0;
      const conv = d.conversions || 0;
      svg.append(s('rect', { class: 'c-bar-sent', x: cx - bw - 1, y: y(sent), width: bw, height: Math.max(0, m.t + ph - y(sent)) },
        s('title', {}, `${d.date} · ${t('col_sent')} ${fmtNum(sent)}`)));
      svg.append(s('rect', { class: 'c-bar-conv', x: cx + 1, y: y(conv), width: bw, height: Math.max(0, m.t + ph - y(conv)) },
        s('title', {}, `${d.date} · ${t('col_conversions')} ${fmtNum(conv)} · ${fmtMoney(d.revenue)}`)));
      if (i % every === 0) {
        svg.append(s('text', { class: 'c-axis', x: cx, y: H - m.b + 16, 'text-anchor': 'middle' }, d.date.slice(5)));
      }
    });
    svg.append(s('line', { class: 'c-axis-line', x1: m.l, x2: W - m.r, y1: m.t + ph, y2: m.t + ph }));
    fig.append(svg,
      h('figcaption', { class: 'c-legend' },
        h('span', { class: 'c-key c-key-sent' }, t('col_sent')),
        h('span', { class: 'c-key c-key-conv' }, t('col_conversions'))),
      h('details', { class: 'c-details' },
        h('summary', {}, t('chart_table')),
        scroll(h('table', { class: 'c-table c-table-compact' },
          h('thead', {}, h('tr', {}, ['col_date', 'col_sent', 'col_conversions', 'col_revenue']
            .map((k, i) => h('th', { scope: 'col', class: i ? 'c-num' : undefined }, t(k))))),
          h('tbody', {}, days.map((d) => h('tr', {},
            h('th', { scope: 'row' }, d.date), h('td', { class: 'c-num' }, fmtNum(d.sent)),
            h('td', { class: 'c-num' }, fmtNum(d.conversions)), h('td', { class: 'c-num' }, fmtMoney(d.revenue)))))),
        t('chart_table'))));
  }

  // ---- deliveries -------------------------------------------------------

  async function loadDeliveries(reset) {
    const c = state.campaign;
    if (!c) return;
    if (reset) state.dlCursor = '';
    const q = new URLSearchParams({ limit: '50' });
    const st = $('#dl-status').value;
    if (st) q.set('status', st);
    if (state.dlCursor) q.set('cursor', state.dlCursor);
    let page;
    try {
      page = await api('GET', `/v1/campaigns/${encodeURIComponent(c.id)}/deliveries?${q}`);
    } catch (e) {
      if (state.role) clear($('#dl-result')).append(h('p', { class: 'c-error' }, problemText(e)));
      return;
    }
    if (state.campaign?.id !== c.id) return;
    const out = $('#dl-result');
    let body = $('#dl-body');
    if (reset || !body) {
      clear(out);
      if (!page.deliveries.length) {
        out.append(h('p', { class: 'c-muted', id: 'dl-empty' }, t('dl_empty')));
        show($('#dl-more'), false);
        return;
      }
      body = h('tbody', { id: 'dl-body' });
      out.append(scroll(h('table', { class: 'c-table c-table-compact', id: 'dl-table' },
        h('thead', {}, h('tr', {}, ['col_user', 'col_status', 'col_channel', 'col_reason', 'col_due', 'col_sent_at', 'col_conversions', 'col_revenue', 'col_decision', 'col_consent']
          .map((k) => h('th', { scope: 'col', class: k === 'col_conversions' || k === 'col_revenue' ? 'c-num' : undefined }, t(k))))),
        body), t('deliveries_h')));
    }
    for (const d of page.deliveries) {
      body.append(h('tr', { 'data-status': d.status },
        h('th', { scope: 'row' }, h('code', {}, d.user_id)),
        h('td', {}, h('span', { class: 'c-badge c-dl-' + d.status }, label('delivery', d.status))),
        h('td', {}, d.channel ? label('channel', d.channel) : '—'),
        h('td', {}, d.reason ? label('reason', d.reason) : '—'),
        h('td', {}, fmtTime(d.due)),
        h('td', {}, fmtTime(d.sent_at)),
        h('td', { class: 'c-num' }, fmtNum(d.conversions || 0)),
        h('td', { class: 'c-num' }, d.revenue ? fmtMoney(d.revenue) : '—'),
        h('td', {}, d.decision_id ? h('code', {}, d.decision_id) : '—'),
        h('td', {}, d.consent_record_id ? h('code', {}, d.consent_record_id) : '—')));
    }
    state.dlCursor = page.next_cursor || '';
    show($('#dl-more'), !!state.dlCursor && page.deliveries.length > 0);
  }

  // ---- admin ------------------------------------------------------------

  async function openAdmin() {
    showView('view-admin');
    loadPolicies();
    loadDecisions();
  }

  async function loadPolicies() {
    const out = clear($('#pol-result'));
    let ps;
    try {
      ps = await api('GET', '/v1/policies');
    } catch (e) {
      if (state.role) out.append(h('p', { class: 'c-error' }, problemText(e)));
      return;
    }
    out.append(h('p', { class: 'c-note' }, t('revision', { rev: ps.revision })));
    for (const name of Object.keys(ps.modules || {}).sort()) {
      out.append(h('details', { class: 'c-details c-policy' },
        h('summary', {}, h('code', {}, name)),
        h('pre', { tabindex: '0', 'aria-label': name }, ps.modules[name])));
    }
  }

  async function loadDecisions() {
    const out = clear($('#dec-result'));
    let page;
    try {
      page = await api('GET', '/v1/decisions?limit=50');
    } catch (e) {
      if (!state.role) return;
      if (e.status === 404 || e.status === 405) out.append(h('p', { class: 'c-muted', id: 'dec-na' }, t('decisions_na')));
      else out.append(h('p', { class: 'c-error' }, problemText(e)));
      return;
    }
    const ds = page.decisions || [];
    if (!ds.length) {
      out.append(h('p', { class: 'c-muted' }, t('decisions_empty')));
      return;
    }
    out.append(scroll(h('table', { class: 'c-table c-table-compact', id: 'dec-table' },
      h('thead', {}, h('tr', {}, ['col_at', 'col_path', 'col_allow', 'col_reasons', 'col_user', 'col_decision']
        .map((k) => h('th', { scope: 'col' }, t(k))))),
      h('tbody', {}, ds.map((d) => h('tr', {},
        h('td', {}, fmtTime(d.at)),
        h('td', {}, h('code', {}, d.path)),
        h('td', {}, h('span', { class: 'c-badge ' + (d.allow ? 'c-allow' : 'c-deny') }, d.allow ? t('allow_yes') : t('allow_no'))),
        h('td', {}, (d.reasons || []).join('; ') || '—'),
        h('td', {}, d.user_id ? h('code', {}, d.user_id) : '—'),
        h('td', {}, h('code', {}, d.decision_id)))))), t('decisions_h')));
  }

  // ---- language ---------------------------------------------------------

  function fillOptions(sel, group) {
    const cur = sel.value;
    const opts = {
      kind: KINDS.map((k) => [k, label('kind', k)]),
      offer: OFFERS.map((k) => [k, label('offer', k)]),
      tier: [['', t('opt_any')]].concat(TIERS.map((k) => [k, label('tier', k)])),
      touchpoint_opt: [['', t('opt_default_tp')]].concat(TOUCHPOINTS.map((k) => [k, label('touchpoint', k)])),
      cap_per: [['', t('opt_no_cap')]].concat(CAP_PERIODS.map((k) => [k, label('cap_per', k)])),
      delivery_status_opt: [['', t('opt_all')]].concat(DELIVERY_STATUSES.map((k) => [k, label('delivery', k)])),
    }[group] || [];
    sel.replaceChildren(...opts.map(([v, text]) => h('option', { value: v }, text)));
    sel.value = cur;
    if (sel.selectedIndex < 0) sel.selectedIndex = 0;
  }

  function applyLanguage() {
    document.documentElement.lang = lang;
    document.title = t('doc_title');
    for (const el of $$('[data-i18n]')) el.textContent = t(el.dataset.i18n);
    for (const el of $$('[data-i18n-attr]')) {
      for (const pair of el.dataset.i18nAttr.split(';')) {
        const [attr, key] = pair.split(':');
        el.setAttribute(attr, t(key));
      }
    }
    for (const sel of $$('select[data-options]')) fillOptions(sel, sel.dataset.options);
    const btn = $('#lang-toggle');
    btn.textContent = t('lang_other');
    btn.setAttribute('lang', lang === 'zh-CN' ? 'en' : 'zh-CN');
    btn.setAttribute('aria-label', t('lang_other_label'));
    flash(''); // said in the other language
    if (state.role) {
      $('#c-role').textContent = t('signed_in_as', { role: t('role_' + state.role) });
      // Re-render what is on screen in the new language.
      const checkedCh = checkedChannels();
      const checkedTp = new Set($$('#f-touchpoints-list input').filter((x) => x.checked).map((x) => x.value));
      buildChannelList(checkedCh);
      buildTouchpoints(checkedTp);
      if (!$('#view-form').hidden) {
        $('#form-h').textContent = state.editing && state.campaign ? t('form_edit', { name: state.campaign.name }) : t('form_new');
      }
      if (!$('#view-list').hidden) loadList();
      if (!$('#view-detail').hidden) {
        renderDetail();
        if (state.lastStats) renderStats(state.lastStats);
        loadDeliveries(true);
        if (state.lastPreview) renderPreview(state.lastPreview);
      }
      if (!$('#view-admin').hidden) openAdmin();
    }
  }

  // ---- start ------------------------------------------------------------

  function bind() {
    $('#signin-form').addEventListener('submit', signIn);
    $('#signout').addEventListener('click', signOut);
    $('#lang-toggle').addEventListener('click', () => {
      lang = lang === 'zh-CN' ? 'en' : 'zh-CN';
      try { localStorage.setItem('heed.console.lang', lang); } catch { /* not kept */ }
      applyLanguage();
    });
    $('#cform').addEventListener('submit', submitForm);
    $('#f-offer-type').addEventListener('change', syncOfferFields);
    $('#f-mode-cron').addEventListener('change', syncScheduleFields);
    $('#f-mode-send-at').addEventListener('change', syncScheduleFields);
    $('#f-channels').addEventListener('click', (ev) => {
      const b = ev.target.closest('button[data-move]');
      if (b) moveChannel(b.dataset.move, Number(b.dataset.dir));
    });
    // Links in an error summary, and the skip link, move the focus
    // without touching the address's #/route.
    document.addEventListener('click', (ev) => {
      const a = ev.target.closest('a[data-focus], a.skip-link');
      if (!a) return;
      ev.preventDefault();
      const el = document.getElementById(a.dataset.focus || 'main');
      if (el) { el.scrollIntoView({ block: a.dataset.focus ? 'center' : 'start' }); el.focus(); }
    });
    $('#d-activate').addEventListener('click', () => transition('activate'));
    $('#d-pause').addEventListener('click', () => transition('pause'));
    $('#d-end').addEventListener('click', () => transition('end'));
    $('#pv-form').addEventListener('submit', preview);
    $('#run-form').addEventListener('submit', runNow);
    $('#st-refresh').addEventListener('click', () => { loadStats(); loadDeliveries(true); });
    $('#dl-status').addEventListener('change', () => loadDeliveries(true));
    $('#dl-more').addEventListener('click', () => loadDeliveries(false));
    $('#dec-refresh').addEventListener('click', loadDecisions);
    window.addEventListener('hashchange', route);
    let resizeTimer = 0;
    window.addEventListener('resize', () => {
      clearTimeout(resizeTimer);
      resizeTimer = setTimeout(() => {
        if (state.lastStats && !$('#view-detail').hidden) drawChart(state.lastStats.by_day || []);
      }, 200);
    });
  }

  bind();
  buildChannelList(new Set());
  buildTouchpoints(new Set());
  applyLanguage();
  checkSession();
})();
