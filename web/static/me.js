// /me: the shopper's preference center.
//
// The page holds no data of its own: it asks GET /v1/session who is signed
// in (an HttpOnly session cookie, set from the shopper token of the
// storefront's link or the sign-in form) and then reads and changes the
// shopper's data through heed's API only. Every change carries the CSRF
// token of the heed_csrf cookie. It polls every 2 s so that a change made
// on another device shows here without a reload.
'use strict';

(() => {
  const POLL_MS = 2000;
  const CHANNELS = ['push', 'email', 'sms', 'inapp'];
  const SIGNALS = ['purchases', 'browsing', 'favorites', 'search', 'region', 'offline'];
  const VIEW_TOUCHPOINTS = ['', 'app', 'web', 'mini_program'];
  const OFFER_TYPES = ['discount', 'threshold', 'points', 'free_shipping'];
  const PURPOSES = ['marketing', 'personalization', 'analytics', 'third_party_sharing'];
  // Withdrawals that cannot simply be undone by allowing again: they ask
  // for a confirmation that says why.
  const HARD_TO_UNDO = new Set(['marketing', 'personalization']);

  // ---------------------------------------------------------------- i18n

  const I18N = {
    'zh-CN': {
      title: '我的隐私与偏好',
      skip: '跳到主要内容',
      signout: '退出',
      nav: '页面目录',
      lang_label: '语言',
      loading: '正在加载…',
      signin_h: '管理您的隐私与偏好',
      signin_p1: '请通过商城 App 或网站中的“隐私与偏好”链接打开本页，链接会让您直接登录。',
      signin_p2: '如果您拿到的是一串访问码，请粘贴在下面。登录之前，本页不显示任何个人信息；访问码只保存在本浏览器的安全 Cookie 中，不会出现在网址里。',
      token_label: '访问码',
      token_hint: '以 hst_ 开头的一串字符。',
      signin_btn: '登录',
      signin_bad: '访问码无效或已过期。请回到商城 App 或网站，重新打开“隐私与偏好”链接。',
      signin_required: '请输入访问码。',
      signed_out: '您已退出。',
      session_ended: '您的登录已过期。请重新打开链接或输入访问码。',
      wrong_role: '当前登录的是控制台账号，本页只供顾客本人使用。请用顾客的访问码登录。',
      hello: '您好，{name}',
      hello_anon: '您好',
      account: '账户 {id}',
      intro: '在这里决定我们可以如何使用您的数据、通过哪些渠道联系您，并查看您的数据被如何使用。所有更改立即生效，并同步到您的其他设备。',
      nav_consents: '授权', nav_prefs: '接收偏好', nav_interests: '兴趣标签', nav_activity: '使用记录', nav_data: '我的数据',

      consents_h: '授权管理',
      consents_p: '每个开关对应一项用途：打开表示同意，关闭表示撤回。撤回立即生效，下一次推荐或消息就不再使用它。',
      view_legend: '适用范围',
      view_: '所有设备', view_app: '在 App 上', view_web: '在网页上', view_mini_program: '在小程序上',
      view_hint_: '这些设置适用于所有设备，除非您为某个设备单独设置过（会在下方注明）。',
      view_hint_tp: '这些设置只适用于{tp}，并覆盖此前的通用设置。',
      tp_app: 'App', tp_web: '网页', tp_mini_program: '小程序', tp_store: '门店', tp_call_center: '客服中心',
      on: '开', off: '关',
      except: '{tp}：{state}',
      purpose_marketing: '营销消息',
      purpose_marketing_p: '我们可以通过哪些渠道向您发送优惠、活动和新品消息。',
      purpose_personalization: '个性化推荐',
      purpose_personalization_p: '我们可以用您的哪些数据为您推荐商品和优惠。关闭后您仍能看到热门和新品，只是不再针对您个人。',
      purpose_analytics: '统计分析',
      purpose_analytics_p: '我们可以把您的使用情况与其他顾客的合并统计，用来改进商城。',
      purpose_third_party_sharing: '与第三方共享',
      purpose_third_party_sharing_p: '我们可以把您的数据提供给以下合作方。',
      no_third_party: '目前没有任何向第三方共享您数据的授权。',
      allows: '允许：', gives: '您得到：',
      item_marketing_push: '推送通知',
      allows_marketing_push: '在您手机的 App 上推送优惠和提醒。',
      gives_marketing_push: '第一时间知道促销、优惠券和到货消息。',
      item_marketing_email: '电子邮件',
      allows_marketing_email: '向您的邮箱发送优惠和商城通讯。',
      gives_marketing_email: '优惠券、会员专享和新品信息送到邮箱。',
      item_marketing_sms: '短信',
      allows_marketing_sms: '向您的手机号发送优惠短信。',
      gives_marketing_sms: '限时优惠和生日礼遇的短信提醒。',
      item_marketing_inapp: '站内消息',
      allows_marketing_inapp: '您使用 App 或网站时，在消息中心展示优惠。',
      gives_marketing_inapp: '打开 App 就能看到为您准备的优惠。',
      item_personalization_purchases: '购买记录',
      allows_personalization_purchases: '根据您买过的商品推荐。',
      gives_personalization_purchases: '补货提醒、搭配商品和“再次购买”建议。',
      item_personalization_browsing: '浏览记录',
      allows_personalization_browsing: '根据您看过的商品推荐。',
      gives_personalization_browsing: '与您看过的商品相似的款式。',
      item_personalization_favorites: '收藏',
      allows_personalization_favorites: '根据您收藏的商品推荐。',
      gives_personalization_favorites: '与收藏相关的商品和降价机会。',
      item_personalization_search: '搜索记录',
      allows_personalization_search: '根据您搜索过的内容推荐。',
      gives_personalization_search: '与您的搜索相符的推荐。',
      item_personalization_region: '所在地区',
      allows_personalization_region: '根据您所在的省市推荐。',
      gives_personalization_region: '本地有售、受欢迎的商品和本地优惠。',
      item_personalization_offline: '门店消费',
      allows_personalization_offline: '使用您在实体门店的购买和到店记录。',
      gives_personalization_offline: '线上推荐也能参考您在门店买过的东西。',
      item_analytics_: '使用统计',
      allows_analytics_: '把您的使用情况与其他顾客的合并统计。',
      gives_analytics_: '更快、更好用的商城。',
      item_third_party: '与 {r} 共享',
      allows_third_party: '把您的数据提供给 {r}。',
      gives_third_party: '该合作方提供的服务，例如配送或联名会员。',
      st_granted: '已同意', st_withdrawn: '已撤回', st_denied: '已拒绝', st_needs_reconsent: '需重新确认', st_none: '未设置（不使用）',
      since: '自 {date} 起',
      minor_note: '未满 14 周岁，需监护人同意后才生效。',
      notice_version: '隐私声明版本 {v}',
      notice_read: '阅读声明',
      notice_none: '暂无单独发布的隐私声明。',
      notice_reconsent: '隐私声明已更新，需要您重新确认后才能继续使用。',
      confirm_withdraw_h: '撤回“{item}”？',
      confirm_withdraw_marketing: '撤回后，已经为您安排、尚未发出的此渠道消息（包括带券码的优惠）都会取消；即使以后重新同意，这些消息也不会补发。',
      confirm_withdraw_personalization: '撤回后，我们会停止收集这类数据。停用期间的数据以后无法补回，推荐需要一段时间才能重新贴合您的喜好。',
      confirm_withdraw_scope: '这只影响{tp}。',
      withdraw_btn: '撤回同意',
      keep_btn: '保留',
      toast_granted: '已同意：{item}',
      toast_withdrawn: '已撤回：{item}',

      prefs_h: '接收偏好',
      prefs_p: '决定我们用什么方式、多久、在什么时间联系您。这些设置在您所有设备上同步。',
      prefs_version: '版本 {v}，更新于 {date}',
      pf_channels_h: '渠道与频率',
      ch_receive: '接收{ch}',
      per_day: '每天最多',
      per_week: '每周最多',
      cap_hint: '填 0 表示不限制。',
      ch_no_consent: '您尚未同意通过此渠道接收营销消息，所以即使打开也不会发送。',
      pf_quiet_h: '免打扰时段',
      quiet_on: '开启免打扰时段',
      quiet_start: '开始时间',
      quiet_end: '结束时间',
      quiet_hint: '这段时间内不会给您发消息，按您的时区（{tz}）计算；可以跨越午夜，例如 22:00 至 08:00。',
      pf_order_h: '渠道顺序',
      order_hint: '一条消息只通过一个渠道发送：按下面的顺序选第一个可用的渠道。',
      move_up: '上移{ch}', move_down: '下移{ch}',
      up: '上移', down: '下移',
      pf_offers_h: '想收到的优惠',
      offers_hint: '只向您发送勾选类型的优惠。',
      offer_discount: '折扣', offer_discount_d: '例如全场 85 折',
      offer_threshold: '满减', offer_threshold_d: '例如满 300 减 50',
      offer_points: '积分', offer_points_d: '例如赠送 200 积分',
      offer_free_shipping: '包邮', offer_free_shipping_d: '免运费',
      offers_none: '没有勾选任何类型时，您不会收到任何优惠。',
      pf_cats_h: '感兴趣的品类',
      cats_hint: '我们会优先为您推荐这些品类。',
      cat_new: '添加品类',
      cat_add: '添加',
      cat_remove: '移除{c}',
      cats_empty: '尚未选择品类。',
      cats_suggest: '根据您的兴趣添加：',
      cat_suggest_btn: '添加{c}',
      pf_lang_h: '语言',
      pref_language: '消息和本页使用的语言',
      lang_follow: '跟随账户设置',
      save: '保存',
      saved: '已保存',
      conflict: '您的偏好刚在其他设备上被修改，已显示最新设置，请重新修改后保存。',
      changed_elsewhere: '这些设置已在其他设备上更改。',
      show_latest: '显示最新设置',
      fix_fields: '请检查：',

      interests_h: '兴趣标签',
      interests_p: '我们根据您允许收集的行为推断出这些兴趣，用于推荐。删除的标签不会再被使用，也不会重新生成。',
      interests_empty: '暂无兴趣标签。',
      tag_category: '品类：{v}',
      tag_tag: '标签：{v}',
      weight: '兴趣强度',
      tag_delete: '删除',
      tag_delete_label: '删除兴趣标签“{t}”',
      interests_deleted: '已删除、不再使用的标签：',
      confirm_tag_h: '删除兴趣标签“{t}”？',
      confirm_tag_p: '删除后我们不会再用它为您推荐，也不会根据您以后的行为重新生成它。此操作无法撤销。',
      delete_btn: '删除',
      toast_tag_deleted: '已删除兴趣标签：{t}',

      activity_h: '我的数据被如何使用',
      activity_p: '每一次使用您的数据都会记录在这里，最新的在前：展示了哪些推荐、哪些消息发送了或没有发送以及原因、谁更改了您的授权。',
      activity_empty: '还没有记录。',
      more: '加载更多',
      badge_sent: '已发送', badge_suppressed: '未发送', badge_failed: '发送失败', badge_rec: '推荐',
      badge_consent: '授权', badge_prefs: '偏好', badge_data: '数据', badge_denied: '已拒绝',
      act_recommendation: '为您展示了推荐',
      rec_list: '“{s}”列表，共 {n} 件商品',
      sig_purchases: '购买记录', sig_browsing: '浏览记录', sig_favorites: '收藏', sig_search: '搜索记录', sig_region: '所在地区', sig_offline: '门店消费',
      rec_personalized: '使用了您的：{signals}',
      rec_not_personalized: '没有使用您的个人数据（非个性化推荐）',
      strategy_for_you: '为您推荐', strategy_similar: '相似商品', strategy_complementary: '搭配商品',
      strategy_region: '本地热卖', strategy_new_arrivals: '新品', strategy_buy_again: '再次购买',
      act_message_sent: '给您发送了一条消息（{ch}）',
      act_message_suppressed: '一条消息没有发送（{ch}）',
      act_message_failed: '一条消息发送失败（{ch}）',
      ch_marketing: '营销消息',
      lc_push: '推送通知', lc_email: '电子邮件', lc_sms: '短信', lc_inapp: '站内消息',
      why: '原因：{r}',
      campaign_ref: '活动 {c}，{o} 场次',
      campaign_offer: '优惠：{o}',
      consent_proof: '依据您的授权记录 {id}',
      r_consent_withdrawn: '您已撤回此渠道的营销授权',
      r_no_consent: '您没有同意通过此渠道接收营销消息',
      r_needs_reconsent: '隐私声明已更新，您尚未重新确认',
      r_channel_disabled: '您在偏好中关闭了此渠道',
      r_offer_type_opt_out: '您不想收到这类优惠',
      r_frequency_cap: '已达到发送次数上限（您设定的或本活动的上限）',
      r_quiet_hours: '正值您的免打扰时段',
      r_minor: '未满 14 周岁且没有监护人同意',
      r_minor_without_guardian: '未满 14 周岁且没有监护人同意',
      r_erased: '您的数据已删除',
      r_window_passed: '活动的发送时间已过',
      r_campaign_paused: '商家暂停了活动',
      r_campaign_ended: '商家结束了活动',
      r_failed: '渠道没有接收这条消息',
      act_consent_change: '授权变更：{what}（{how}）',
      cs_granted: '同意', cs_withdrawn: '撤回', cs_denied: '拒绝',
      only_tp: '，仅限{tp}',
      act_preference_change: '接收偏好已更改',
      act_interest_deleted: '删除了兴趣标签：{t}',
      act_identity_linked: '关联了一个身份（手机号、邮箱等）',
      act_identity_merge: '合并了您的另一个账户，较严格的授权生效',
      act_export: '导出了您的数据',
      act_erasure: '删除了您的数据',
      act_access_denied: '一次使用您数据的请求被拒绝',
      act_conversion: '一次购买被计为营销活动的效果',
      act_events_collected: '记录了您的 {n} 条行为',
      events_dropped: '{n} 条因您未授权而没有保存',
      ev_kinds: '涉及：{k}',
      act_other: '{a}',
      by: '操作方：{actor}',
      actor_shopper: '您本人', actor_storefront: '商城（App、网站或门店）', actor_admin: '管理员',
      actor_merchandiser: '运营人员', actor_marketing: '营销人员', actor_system: '系统自动',
      decision: '决策编号 {id}',

      data_h: '我的数据',
      export_h: '下载我的数据',
      export_p: '下载我们保存的关于您的全部数据（JSON 格式）：资料、授权记录、偏好、兴趣标签、行为记录、使用记录，以及为您安排的营销消息。',
      export_btn: '下载我的数据',
      export_done: '已下载您的数据。',
      erase_h: '删除我的账户数据',
      erase_p: '永久删除您的资料、行为记录、偏好、兴趣标签和待发送的消息。法律要求保留的最少量授权与撤回证明除外。',
      erase_btn: '删除我的数据',
      confirm_erase_h: '永久删除您的数据？',
      confirm_erase_p: '此操作无法撤销。删除后您会退出本页，所有待发送的消息都会取消，推荐也不再受您数据的影响。',
      confirm_erase_check: '我了解删除后无法恢复',
      erase_ok: '永久删除',
      cancel: '取消',
      erased_h: '您的数据已删除',
      erased_p: '我们只保留法律要求的最少量授权与撤回证明。您已退出。',

      err_network: '网络连接出现问题，请稍后重试。',
      err_status: '出错了（{status}）',
      err_400: '输入有误', err_403: '没有权限执行此操作', err_404: '找不到', err_409: '与当前状态冲突',
      err_412: '内容已在别处被修改', err_413: '内容太大', err_415: '格式不受支持', err_429: '请求太频繁，请稍后再试',
      err_5xx: '服务暂时不可用，请稍后重试',
      colon: '：',
      err_session: '登录已过期，请重新登录。',
      gone: '此账户已不存在或已被删除。',
      sep: '、',
    },
    en: {
      title: 'My privacy and preferences',
      skip: 'Skip to main content',
      signout: 'Sign out',
      nav: 'On this page',
      lang_label: 'Language',
      loading: 'Loading…',
      signin_h: 'Manage your privacy and preferences',
      signin_p1: 'Open this page from the “Privacy & preferences” link in the shop’s app or website; the link signs you in.',
      signin_p2: 'If you were given an access code, paste it below. Nothing about you is shown before you sign in; the code is kept only in a secure cookie of this browser, never in the address.',
      token_label: 'Access code',
      token_hint: 'A string of characters starting with hst_.',
      signin_btn: 'Sign in',
      signin_bad: 'This access code is not valid or has expired. Open the “Privacy & preferences” link in the shop’s app or website again.',
      signin_required: 'Enter your access code.',
      signed_out: 'You are signed out.',
      session_ended: 'Your session has ended. Open the link again or enter your access code.',
      wrong_role: 'You are signed in with a console account; this page is for shoppers only. Sign in with a shopper’s access code.',
      hello: 'Hello, {name}',
      hello_anon: 'Hello',
      account: 'Account {id}',
      intro: 'Decide here how we may use your data and how we may contact you, and see how your data was used. Every change takes effect at once and reaches your other devices.',
      nav_consents: 'Consents', nav_prefs: 'Preferences', nav_interests: 'Interests', nav_activity: 'Usage log', nav_data: 'My data',

      consents_h: 'Your consents',
      consents_p: 'Each switch is one use of your data: on means you allow it, off means you withdraw. A withdrawal takes effect at once: the next recommendation or message no longer uses it.',
      view_legend: 'Applies to',
      view_: 'All devices', view_app: 'On the app', view_web: 'On the web', view_mini_program: 'In the mini program',
      view_hint_: 'These settings apply on every device, unless you set a device apart (noted below).',
      view_hint_tp: 'These settings apply only {tp} and override your general settings there.',
      tp_app: 'on the app', tp_web: 'on the web', tp_mini_program: 'in the mini program', tp_store: 'in stores', tp_call_center: 'at the call centre',
      on: 'on', off: 'off',
      except: '{tp}: {state}',
      purpose_marketing: 'Marketing messages',
      purpose_marketing_p: 'The channels we may use to send you offers, events and new arrivals.',
      purpose_personalization: 'Personalized recommendations',
      purpose_personalization_p: 'The data we may use to suggest products and offers for you. Without it you still see popular and new items, just not picked for you.',
      purpose_analytics: 'Analytics',
      purpose_analytics_p: 'We may count your use of the shop together with other shoppers’ to improve it.',
      purpose_third_party_sharing: 'Sharing with third parties',
      purpose_third_party_sharing_p: 'We may give your data to these partners.',
      no_third_party: 'You have not allowed sharing your data with any third party.',
      allows: 'Allows: ', gives: 'You get: ',
      item_marketing_push: 'Push notifications',
      allows_marketing_push: 'Sending offers and reminders to the app on your phone.',
      gives_marketing_push: 'First news of sales, coupons and restocks.',
      item_marketing_email: 'Email',
      allows_marketing_email: 'Sending offers and newsletters to your email address.',
      gives_marketing_email: 'Coupons, member deals and new arrivals in your inbox.',
      item_marketing_sms: 'Text messages (SMS)',
      allows_marketing_sms: 'Sending offers by text message to your phone number.',
      gives_marketing_sms: 'Reminders of time-limited deals and birthday treats.',
      item_marketing_inapp: 'In-app messages',
      allows_marketing_inapp: 'Showing offers in the message centre while you use the app or website.',
      gives_marketing_inapp: 'Offers waiting for you when you open the app.',
      item_personalization_purchases: 'Your purchases',
      allows_personalization_purchases: 'Using what you bought to suggest products.',
      gives_personalization_purchases: 'Refill reminders, matching items and “buy again”.',
      item_personalization_browsing: 'Your browsing',
      allows_personalization_browsing: 'Using the products you looked at.',
      gives_personalization_browsing: 'Items like the ones you viewed.',
      item_personalization_favorites: 'Your favourites',
      allows_personalization_favorites: 'Using the products you saved.',
      gives_personalization_favorites: 'Related items and price drops on things you like.',
      item_personalization_search: 'Your searches',
      allows_personalization_search: 'Using what you searched for.',
      gives_personalization_search: 'Suggestions that match your searches.',
      item_personalization_region: 'Your region',
      allows_personalization_region: 'Using your province and city.',
      gives_personalization_region: 'Items sold and popular near you, local offers.',
      item_personalization_offline: 'In-store purchases',
      allows_personalization_offline: 'Using your purchases and visits in our physical stores.',
      gives_personalization_offline: 'Online suggestions that know what you bought in store.',
      item_analytics_: 'Usage statistics',
      allows_analytics_: 'Counting your use of the shop together with other shoppers’.',
      gives_analytics_: 'A faster, easier shop.',
      item_third_party: 'Sharing with {r}',
      allows_third_party: 'Giving your data to {r}.',
      gives_third_party: 'The partner’s services, such as delivery or a joint membership.',
      st_granted: 'Allowed', st_withdrawn: 'Withdrawn', st_denied: 'Refused', st_needs_reconsent: 'Needs your consent again', st_none: 'Not set (not used)',
      since: 'since {date}',
      minor_note: 'Under 14: this takes effect only with a guardian’s consent.',
      notice_version: 'Privacy notice version {v}',
      notice_read: 'Read the notice',
      notice_none: 'No separate privacy notice is published.',
      notice_reconsent: 'The privacy notice changed: please confirm again to keep this on.',
      confirm_withdraw_h: 'Withdraw “{item}”?',
      confirm_withdraw_marketing: 'Messages already planned for you on this channel (offers with coupon codes too) are cancelled, and they are not sent later even if you allow it again.',
      confirm_withdraw_personalization: 'We stop collecting this kind of data. What is not collected meanwhile cannot be added later, so recommendations take a while to fit you again.',
      confirm_withdraw_scope: 'This applies only {tp}.',
      withdraw_btn: 'Withdraw',
      keep_btn: 'Keep',
      toast_granted: 'Allowed: {item}',
      toast_withdrawn: 'Withdrawn: {item}',

      prefs_h: 'How we contact you',
      prefs_p: 'Choose how, how often and when we may contact you. These settings are shared by all your devices.',
      prefs_version: 'Version {v}, updated {date}',
      pf_channels_h: 'Channels and frequency',
      ch_receive: 'Receive {ch}',
      per_day: 'At most per day',
      per_week: 'At most per week',
      cap_hint: '0 means no limit.',
      ch_no_consent: 'You have not allowed marketing on this channel, so nothing is sent even when it is on.',
      pf_quiet_h: 'Quiet hours',
      quiet_on: 'Use quiet hours',
      quiet_start: 'From',
      quiet_end: 'Until',
      quiet_hint: 'No messages during these hours, in your time zone ({tz}); they may span midnight, e.g. 22:00 to 08:00.',
      pf_order_h: 'Channel order',
      order_hint: 'A message goes out on one channel only: the first one in this order that may be used.',
      move_up: 'Move {ch} up', move_down: 'Move {ch} down',
      up: 'Up', down: 'Down',
      pf_offers_h: 'Offers you want',
      offers_hint: 'We send only the kinds of offer you tick.',
      offer_discount: 'Discounts', offer_discount_d: 'e.g. 15% off',
      offer_threshold: 'Spend & save (满减)', offer_threshold_d: 'e.g. ¥50 off when you spend ¥300',
      offer_points: 'Points', offer_points_d: 'e.g. 200 bonus points',
      offer_free_shipping: 'Free shipping', offer_free_shipping_d: 'no delivery charge',
      offers_none: 'With none ticked, you receive no offers at all.',
      pf_cats_h: 'Categories you like',
      cats_hint: 'We suggest these categories first.',
      cat_new: 'Add a category',
      cat_add: 'Add',
      cat_remove: 'Remove {c}',
      cats_empty: 'No categories chosen.',
      cats_suggest: 'From your interests:',
      cat_suggest_btn: 'Add {c}',
      pf_lang_h: 'Language',
      pref_language: 'Language of messages and of this page',
      lang_follow: 'As in my account',
      save: 'Save',
      saved: 'Saved',
      conflict: 'Your preferences were just changed on another device. The latest are shown now; please make your change again.',
      changed_elsewhere: 'These settings were changed on another device.',
      show_latest: 'Show the latest',
      fix_fields: 'Please check:',

      interests_h: 'Interest tags',
      interests_p: 'We derived these interests from the activity you allow us to collect, and use them for suggestions. A tag you delete is never used or derived again.',
      interests_empty: 'No interest tags.',
      tag_category: 'Category: {v}',
      tag_tag: 'Tag: {v}',
      weight: 'Strength of interest',
      tag_delete: 'Delete',
      tag_delete_label: 'Delete interest tag “{t}”',
      interests_deleted: 'Deleted, never used again:',
      confirm_tag_h: 'Delete the interest tag “{t}”?',
      confirm_tag_p: 'We will no longer use it for suggestions, nor derive it again from what you do later. This cannot be undone.',
      delete_btn: 'Delete',
      toast_tag_deleted: 'Deleted interest tag: {t}',

      activity_h: 'How my data was used',
      activity_p: 'Every use of your data is listed here, newest first: which suggestions you were shown, which messages were sent or not sent and why, who changed your consents.',
      activity_empty: 'Nothing yet.',
      more: 'Show more',
      badge_sent: 'Sent', badge_suppressed: 'Not sent', badge_failed: 'Failed', badge_rec: 'Suggestions',
      badge_consent: 'Consent', badge_prefs: 'Preferences', badge_data: 'Data', badge_denied: 'Refused',
      act_recommendation: 'Suggestions were shown to you',
      rec_list: '“{s}” list of {n} items',
      rec_list_one: '“{s}” list of 1 item',
      sig_purchases: 'purchases', sig_browsing: 'browsing', sig_favorites: 'favourites', sig_search: 'searches', sig_region: 'region', sig_offline: 'in-store purchases',
      rec_personalized: 'Based on your {signals}',
      rec_not_personalized: 'None of your personal data was used (not personalized)',
      strategy_for_you: 'For you', strategy_similar: 'Similar items', strategy_complementary: 'Goes well with',
      strategy_region: 'Popular near you', strategy_new_arrivals: 'New arrivals', strategy_buy_again: 'Buy again',
      act_message_sent: 'A message was sent to you ({ch})',
      act_message_suppressed: 'A message was not sent ({ch})',
      act_message_failed: 'A message could not be delivered ({ch})',
      ch_marketing: 'marketing',
      lc_push: 'push notifications', lc_email: 'email', lc_sms: 'text messages', lc_inapp: 'in-app messages',
      why: 'Why: {r}',
      campaign_ref: 'Campaign {c}, occurrence {o}',
      campaign_offer: 'Offer: {o}',
      consent_proof: 'allowed by your consent record {id}',
      r_consent_withdrawn: 'you withdrew marketing consent for this channel',
      r_no_consent: 'you have not allowed marketing on this channel',
      r_needs_reconsent: 'the privacy notice changed and you have not confirmed again',
      r_channel_disabled: 'you turned this channel off in your preferences',
      r_offer_type_opt_out: 'you don’t want this kind of offer',
      r_frequency_cap: 'the limit on how many messages you get was reached (yours or the campaign’s)',
      r_quiet_hours: 'it was during your quiet hours',
      r_minor: 'under 14 without a guardian’s consent',
      r_minor_without_guardian: 'under 14 without a guardian’s consent',
      r_erased: 'your data was erased',
      r_window_passed: 'the campaign’s time to send had passed',
      r_campaign_paused: 'the shop paused the campaign',
      r_campaign_ended: 'the shop ended the campaign',
      r_failed: 'the channel did not accept the message',
      act_consent_change: 'Consent changed: {what} ({how})',
      cs_granted: 'allowed', cs_withdrawn: 'withdrawn', cs_denied: 'refused',
      only_tp: ', only {tp}',
      act_preference_change: 'Your contact preferences were changed',
      act_interest_deleted: 'Interest tag deleted: {t}',
      act_identity_linked: 'An identity (phone, email, …) was linked to your account',
      act_identity_merge: 'Another account of yours was merged in; the stricter consent won',
      act_export: 'Your data was exported',
      act_erasure: 'Your data was erased',
      act_access_denied: 'A request to use your data was refused',
      act_conversion: 'A purchase was counted as a result of a campaign',
      act_events_collected: '{n} of your activities were recorded',
      events_dropped: '{n} not kept because you did not allow it',
      ev_kinds: 'Kinds: {k}',
      act_other: '{a}',
      by: 'By: {actor}',
      actor_shopper: 'you', actor_storefront: 'the shop (app, website or store)', actor_admin: 'an administrator',
      actor_merchandiser: 'the merchandising team', actor_marketing: 'the marketing team', actor_system: 'heed, automatically',
      decision: 'decision {id}',

      data_h: 'My data',
      export_h: 'Download my data',
      export_p: 'Download everything we hold about you, as JSON: profile, consent records, preferences, interest tags, activity, the usage log, and the marketing messages planned for you.',
      export_btn: 'Download my data',
      export_done: 'Your data was downloaded.',
      erase_h: 'Delete my account data',
      erase_p: 'Delete your profile, activity, preferences, interest tags and pending messages for good. Only the minimal proof of your consents and withdrawals that the law requires is kept.',
      erase_btn: 'Delete my data',
      confirm_erase_h: 'Delete your data for good?',
      confirm_erase_p: 'This cannot be undone. You will be signed out, every pending message is cancelled, and suggestions no longer depend on your data.',
      confirm_erase_check: 'I understand this cannot be undone',
      erase_ok: 'Delete for good',
      cancel: 'Cancel',
      erased_h: 'Your data was deleted',
      erased_p: 'We keep only the minimal proof of consent and withdrawal that the law requires. You are signed out.',

      err_network: 'The network connection failed; please try again.',
      err_status: 'Something went wrong ({status})',
      err_400: 'Some input is not valid', err_403: 'You may not do this', err_404: 'Not found', err_409: 'This conflicts with the current state',
      err_412: 'This was changed elsewhere', err_413: 'Too large', err_415: 'Format not supported', err_429: 'Too many requests; please wait a moment',
      err_5xx: 'The service is unavailable; please try again later',
      colon: ': ',
      err_session: 'Your session has ended; please sign in again.',
      gone: 'This account no longer exists or was deleted.',
      sep: ', ',
    },
  };

  let lang = 'zh-CN';

  function t(key, vars) {
    let s = I18N[lang][key];
    if (s === undefined) s = I18N['zh-CN'][key];
    if (s === undefined) return key;
    if (vars) s = s.replace(/\{(\w+)\}/g, (m, k) => (vars[k] === undefined ? m : String(vars[k])));
    return s;
  }
  function has(key) { return I18N[lang][key] !== undefined; }

  function normLang(s) {
    s = String(s || '').toLowerCase();
    if (s.startsWith('en')) return 'en';
    if (s.startsWith('zh')) return 'zh-CN';
    return '';
  }
  // The language chosen with the switch on this device, if any.
  function chosenLang() {
    try { return normLang(localStorage.getItem('heed.me.lang')); } catch { return ''; }
  }
  function pickLang() {
    return chosenLang() || normLang(S.prefs && S.prefs.language) || normLang(S.user && S.user.locale) || 'zh-CN';
  }

  // ----------------------------------------------------------------- DOM

  const $ = (id) => document.getElementById(id);
  const PROPS = new Set(['checked', 'disabled', 'hidden', 'selected', 'value', 'open']);

  // h builds an element: props are attributes, except text, class, on*
  // handlers and the properties in PROPS; children are nodes or strings
  // (never parsed as HTML).
  function h(tag, props, ...kids) {
    const el = document.createElement(tag);
    const later = [];
    if (props) {
      for (const [k, v] of Object.entries(props)) {
        if (v === undefined || v === null || v === false) continue;
        if (k === 'class') el.className = v;
        else if (k === 'text') el.textContent = v;
        else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
        else if (PROPS.has(k)) later.push([k, v]);
        else el.setAttribute(k, v === true ? '' : String(v));
      }
    }
    for (const kid of kids.flat(Infinity)) {
      if (kid === undefined || kid === null || kid === false) continue;
      el.append(kid instanceof Node ? kid : String(kid));
    }
    for (const [k, v] of later) el[k] = v;
    return el;
  }

  // replace swaps the children of container for nodes, keeping keyboard
  // focus on the element with the same id if there is one afterwards.
  function replace(container, ...nodes) {
    const active = document.activeElement;
    const focusID = active && active !== document.body && container.contains(active) ? active.id : '';
    container.replaceChildren(...nodes.flat(Infinity).filter(Boolean));
    if (focusID) {
      const again = document.getElementById(focusID);
      if (again) again.focus({ preventScroll: true });
    }
  }

  function fmtDate(iso) {
    if (!iso) return '';
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return iso;
    try {
      return new Intl.DateTimeFormat(lang, { dateStyle: 'medium', timeStyle: 'short' }).format(d);
    } catch { return d.toLocaleString(); }
  }

  function idPart(s) {
    return String(s || 'any').replace(/[^A-Za-z0-9_-]/g, (c) => '_' + c.charCodeAt(0).toString(16));
  }

  let toastTimer = 0;
  function toast(msg, error) {
    const el = $('toast');
    el.textContent = msg;
    el.classList.toggle('toast-error', Boolean(error));
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { el.textContent = ''; }, error ? 8000 : 4000);
  }

  // ----------------------------------------------------------------- API

  class ApiError extends Error {
    constructor(status, problem) {
      super((problem && (problem.detail || problem.title)) || ('HTTP ' + status));
      this.status = status;
      this.problem = problem;
    }
  }

  function csrfToken() {
    for (const part of document.cookie.split(';')) {
      const [k, ...v] = part.trim().split('=');
      if (k === 'heed_csrf') return decodeURIComponent(v.join('='));
    }
    return '';
  }

  // call sends one request to heed's API with the session cookie and, for
  // a change, the CSRF header; it answers {data, res} or throws ApiError
  // (status 0: no answer).
  async function call(method, path, opts = {}) {
    const headers = { Accept: 'application/json, application/problem+json', ...(opts.headers || {}) };
    if (!['GET', 'HEAD', 'OPTIONS'].includes(method)) headers['X-CSRF-Token'] = csrfToken();
    let body;
    if (opts.body !== undefined) {
      body = JSON.stringify(opts.body);
      if (!headers['Content-Type']) headers['Content-Type'] = 'application/json';
    }
    let res;
    try {
      res = await fetch(path, { method, headers, body, credentials: 'same-origin', cache: 'no-store', redirect: 'error' });
    } catch (e) {
      throw new ApiError(0, null);
    }
    if (!res.ok) {
      let problem = null;
      try { problem = await res.json(); } catch { /* not JSON */ }
      throw new ApiError(res.status, problem);
    }
    if (opts.blob) return { data: await res.blob(), res };
    if (res.status === 204) return { data: null, res };
    return { data: await res.json(), res };
  }
  const api = async (method, path, opts) => (await call(method, path, opts)).data;

  // problemText says what went wrong in the page's language, with the
  // API's own detail (a problem JSON, RFC 9457) after it.
  function problemText(e) {
    if (!(e instanceof ApiError)) return String((e && e.message) || e);
    if (e.status === 0) return t('err_network');
    if (e.status === 401) return t('err_session');
    const key = e.status >= 500 ? 'err_5xx' : 'err_' + e.status;
    const head = has(key) ? t(key) : t('err_status', { status: e.status });
    const p = e.problem;
    const detail = p && (p.detail || p.title);
    return detail ? head + t('colon') + detail : head;
  }

  // problemNodes renders an error readably: what went wrong and, for bad
  // input, each field.
  function problemNodes(e, form) {
    const errs = e instanceof ApiError && e.problem && Array.isArray(e.problem.errors) ? e.problem.errors : [];
    if (!errs.length) {
      return [
        h('p', { text: problemText(e) }),
        e instanceof ApiError && e.problem && e.problem.decision_id ? h('p', { class: 'muted' }, h('small', { text: t('decision', { id: e.problem.decision_id }) })) : null,
      ];
    }
    return [
      h('p', { text: t('err_400') + t('colon') + t('fix_fields') }),
      h('ul', null, errs.map((x) => h('li', null, h('strong', { text: fieldLabel(form, x.field) }), t('colon'), x.message))),
    ];
  }

  // fieldLabel names an API field by the label of its control in form.
  function fieldLabel(form, field) {
    const el = form && fieldControl(form, field);
    if (!el || !el.labels || !el.labels.length) return field;
    const group = el.closest('fieldset');
    const legend = group && group.querySelector('legend');
    const label = el.labels[0].textContent.trim();
    return legend && group !== form ? legend.textContent.trim() + ' · ' + label : label;
  }
  function fieldControl(form, field) {
    for (const el of form.querySelectorAll('[data-field]')) {
      if (field && (field === el.dataset.field || field.endsWith('.' + el.dataset.field))) return el;
    }
    return null;
  }

  // --------------------------------------------------------------- state

  const S = {
    uid: '',
    user: null,
    consents: [],     // effective consents
    notices: [],
    prefs: null,
    interests: { tags: [], deleted: [] },
    activity: [],     // loaded entries, newest first
    next: '',         // cursor of the next (older) activity page
    view: '',         // touchpoint of the consent view; '' is every touchpoint
    dirty: new Set(), // preference forms edited and not saved
    draft: {},        // working copies of the order and categories forms
    pending: new Set(),
    stale: new Set(), // forms left alone by a poll because they were dirty
  };
  const userPath = (suffix) => '/v1/users/' + encodeURIComponent(S.uid) + (suffix || '');

  // -------------------------------------------------------- static parts

  function applyStatic() {
    document.documentElement.lang = lang;
    document.title = t('title') + ' · heed';
    $('brand').textContent = t('title');
    $('skip').textContent = t('skip');
    $('signout').textContent = t('signout');
    $('lang-label').textContent = t('lang_label');
    $('lang').value = lang;
    $('me-nav').setAttribute('aria-label', t('nav'));
    $('dialog-cancel').textContent = t('cancel');
  }

  function setLang(l, remember) {
    lang = l;
    if (remember) { try { localStorage.setItem('heed.me.lang', l); } catch { /* private mode */ } }
    applyStatic();
  }

  // ------------------------------------------------------------ sign in

  function showSignIn(note, noteIsError) {
    stopPolling();
    S.uid = '';
    $('signout').hidden = true;
    $('me-nav').hidden = true;
    $('me-nav').replaceChildren();
    const err = h('p', { id: 'signin-error', class: 'error', role: 'alert' });
    const input = h('input', { id: 'token', name: 'token', type: 'password', autocomplete: 'off', spellcheck: 'false',
      required: true, 'aria-describedby': 'token-hint signin-error' });
    const form = h('form', { id: 'signin-form', novalidate: true, onsubmit: async (ev) => {
      ev.preventDefault();
      err.textContent = '';
      input.removeAttribute('aria-invalid');
      const token = input.value.trim();
      if (!token) {
        err.textContent = t('signin_required');
        input.setAttribute('aria-invalid', 'true');
        input.focus();
        return;
      }
      const btn = $('signin-submit');
      btn.disabled = true;
      try {
        await api('POST', '/me/session', { body: { token } });
        input.value = '';
        await start();
      } catch (e) {
        err.textContent = e instanceof ApiError && (e.status === 401 || e.status === 400) ? t('signin_bad') : problemText(e);
        input.setAttribute('aria-invalid', 'true');
        input.focus();
      } finally {
        btn.disabled = false;
      }
    } },
    h('div', { class: 'field' },
      h('label', { for: 'token', text: t('token_label') }),
      input,
      h('p', { id: 'token-hint', class: 'hint', text: t('token_hint') })),
    err,
    h('div', { class: 'actions' }, h('button', { type: 'submit', id: 'signin-submit', class: 'btn btn-primary', text: t('signin_btn') })));

    replace($('main'), h('section', { class: 'card signin', id: 'signin', 'aria-labelledby': 'signin-h' },
      note ? h('p', { class: noteIsError ? 'alert alert-warn' : 'alert alert-ok', id: 'signin-note', role: 'status', text: note }) : null,
      h('h1', { id: 'signin-h', tabindex: '-1', text: t('signin_h') }),
      h('p', { text: t('signin_p1') }),
      h('p', { class: 'muted', text: t('signin_p2') }),
      form));
    S.signinNote = [note, noteIsError];
  }

  async function signOut() {
    try { await api('POST', '/session/delete'); } catch { /* the cookies go anyway when they expire */ }
    showSignIn(t('signed_out'));
    $('signin-h').focus();
  }

  // ---------------------------------------------------------- loading

  async function loadPrefs() {
    const { data } = await call('GET', userPath('/preferences'));
    S.prefs = data;
  }
  async function loadConsents() { S.consents = (await api('GET', userPath('/consents'))).effective || []; }
  async function loadInterests() {
    const d = await api('GET', userPath('/interests'));
    S.interests = { tags: d.tags || [], deleted: d.deleted || [] };
  }
  async function loadActivity() {
    const d = await api('GET', userPath('/activity?limit=50'));
    S.activity = d.entries || [];
    S.next = d.next_cursor || '';
  }
  async function loadNotices() {
    try { S.notices = (await api('GET', '/v1/notices')).notices || []; } catch { S.notices = []; }
  }

  // start finds out who is signed in and shows the page for that shopper,
  // or the sign-in form.
  async function start() {
    let session;
    try {
      session = await api('GET', '/v1/session');
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) { showSignIn(); return; }
      showFatal(e);
      return;
    }
    if (session.role !== 'shopper' || !session.user_id) {
      showSignIn(t('wrong_role'), true);
      return;
    }
    S.uid = session.user_id;
    S.dirty.clear(); S.stale.clear(); S.draft = {};
    try {
      const [user] = await Promise.all([api('GET', userPath()), loadConsents(), loadNotices(), loadPrefs(), loadInterests(), loadActivity()]);
      S.user = user;
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) { showSignIn(t('session_ended'), true); return; }
      if (e instanceof ApiError && e.status === 404) { showGone(); return; }
      showFatal(e);
      return;
    }
    if (!chosenLang()) setLang(pickLang(), false);
    renderApp();
    startPolling();
  }

  function showFatal(e) {
    replace($('main'), h('section', { class: 'card' }, h('div', { class: 'alert alert-error', role: 'alert' }, problemNodes(e))));
  }

  function showGone() {
    stopPolling();
    $('signout').hidden = true;
    $('me-nav').hidden = true;
    replace($('main'), h('section', { class: 'card', id: 'gone' }, h('h1', { tabindex: '-1', text: t('gone') })));
  }

  // ------------------------------------------------------------- render

  const SECTIONS = [['consents', 'nav_consents'], ['prefs', 'nav_prefs'], ['interests', 'nav_interests'], ['activity', 'nav_activity'], ['data', 'nav_data']];

  function renderApp() {
    applyStatic();
    $('signout').hidden = false;
    const nav = $('me-nav');
    nav.replaceChildren(h('ul', null, SECTIONS.map(([id, key]) => h('li', null, h('a', { href: '#' + id, text: t(key) })))));
    nav.hidden = false;
    const name = S.user && S.user.name;
    replace($('main'),
      h('section', { class: 'me-hero', 'aria-labelledby': 'hello' },
        h('h1', { id: 'hello', tabindex: '-1', text: name ? t('hello', { name }) : t('hello_anon') }),
        h('p', { class: 'muted', id: 'account' }, t('account', { id: S.uid })),
        h('p', { text: t('intro') })),
      h('section', { id: 'consents', class: 'card', 'aria-labelledby': 'consents-h' }),
      h('section', { id: 'prefs', class: 'card', 'aria-labelledby': 'prefs-h' }),
      h('section', { id: 'interests', class: 'card', 'aria-labelledby': 'interests-h' }),
      h('section', { id: 'activity', class: 'card', 'aria-labelledby': 'activity-h' }),
      h('section', { id: 'data', class: 'card', 'aria-labelledby': 'data-h' }));
    renderConsents();
    renderPrefs(true);
    renderInterests();
    renderActivity();
    renderData();
  }

  // ---------------------------------------------------------- consents

  const RESTRICTIVE = { granted: 0, none: 0, needs_reconsent: 1, withdrawn: 2, denied: 2 };

  // decide returns the effective entry that decides (purpose, key,
  // recipient) at touchpoint tp ('' = every touchpoint): of the entries
  // whose scope covers the question, the newest; on a tie the more
  // restrictive. The effective list names each scope's deciding record,
  // so this is the ledger's own fold.
  function decide(purpose, key, recipient, tp) {
    let best = null;
    for (const e of S.consents) {
      if (e.purpose !== purpose) continue;
      if (purpose === 'marketing' && e.channel && e.channel !== key) continue;
      if (purpose === 'personalization' && e.signal && e.signal !== key) continue;
      if (purpose === 'third_party_sharing' && (e.recipient || '') !== (recipient || '')) continue;
      if (e.touchpoint && e.touchpoint !== tp) continue;
      if (!best) { best = e; continue; }
      const a = e.since || '', b = best.since || '';
      if (a > b || (a === b && (RESTRICTIVE[e.status] || 0) > (RESTRICTIVE[best.status] || 0))) best = e;
    }
    return best;
  }
  const isOn = (e) => Boolean(e && e.status === 'granted');

  function noticeFor(purpose) {
    let n = null;
    for (const x of S.notices) if (x.purpose === purpose) n = x;
    return n;
  }

  function itemName(purpose, key, recipient) {
    if (purpose === 'third_party_sharing') return t('item_third_party', { r: recipient });
    return t('item_' + purpose + '_' + (key || ''));
  }

  function consentRows(purpose) {
    if (purpose === 'marketing') return CHANNELS.map((k) => ({ key: k }));
    if (purpose === 'personalization') return SIGNALS.map((k) => ({ key: k }));
    if (purpose === 'third_party_sharing') {
      const rs = [...new Set(S.consents.filter((e) => e.purpose === purpose && e.recipient).map((e) => e.recipient))].sort();
      return rs.map((r) => ({ key: '', recipient: r }));
    }
    return [{ key: '' }];
  }

  function statusBadge(e) {
    const st = e ? e.status : 'none';
    const cls = st === 'granted' ? 'badge-ok' : st === 'none' ? '' : st === 'needs_reconsent' ? 'badge-warn' : 'badge-danger';
    return h('span', { class: 'badge ' + cls, text: t('st_' + st) });
  }

  function renderConsents() {
    const box = $('consents');
    if (!box) return;
    const tp = S.view;
    const viewField = h('fieldset', { class: 'segmented', id: 'view' },
      h('legend', { text: t('view_legend') }),
      h('div', { class: 'segmented-options' }, VIEW_TOUCHPOINTS.map((v) => h('label', { class: 'segment' },
        h('input', { type: 'radio', name: 'view', id: 'view-' + (v || 'all'), value: v, checked: v === tp,
          onchange: () => { S.view = v; renderConsents(); } }),
        h('span', { text: t('view_' + v) })))));
    const parts = [
      h('h2', { id: 'consents-h', text: t('consents_h') }),
      h('p', { text: t('consents_p') }),
      viewField,
      h('p', { class: 'hint', id: 'view-hint', text: tp ? t('view_hint_tp', { tp: t('tp_' + tp) }) : t('view_hint_') }),
    ];
    for (const purpose of PURPOSES) parts.push(renderPurpose(purpose, tp));
    replace(box, parts);
  }

  function renderPurpose(purpose, tp) {
    const notice = noticeFor(purpose);
    const rows = consentRows(purpose);
    const needsReconsent = S.consents.some((e) => e.purpose === purpose && e.status === 'needs_reconsent');
    return h('section', { class: 'purpose', id: 'purpose-' + purpose, 'aria-labelledby': 'purpose-' + purpose + '-h' },
      h('div', { class: 'purpose-head' },
        h('h3', { id: 'purpose-' + purpose + '-h', text: t('purpose_' + purpose) }),
        h('p', { class: 'notice muted', id: 'notice-' + purpose },
          notice ? t('notice_version', { v: notice.version }) : t('notice_none'),
          notice && /^https?:\/\//i.test(notice.text_url || '') ? [' · ', h('a', { href: notice.text_url, rel: 'noopener noreferrer', target: '_blank', text: t('notice_read') })] : null)),
      h('p', { text: t('purpose_' + purpose + '_p') }),
      needsReconsent ? h('p', { class: 'alert alert-warn', text: t('notice_reconsent') }) : null,
      rows.length
        ? h('ul', { class: 'consent-list' }, rows.map((r) => renderConsentRow(purpose, r.key, r.recipient, tp)))
        : h('p', { class: 'muted', text: t('no_third_party') }));
  }

  function renderConsentRow(purpose, key, recipient, tp) {
    const e = decide(purpose, key, recipient, tp);
    const id = ['c', purpose, key || recipient ? idPart(key || recipient) : '', tp].filter(Boolean).join('-');
    const name = itemName(purpose, key, recipient);
    const allowsKey = purpose === 'third_party_sharing' ? 'allows_third_party' : 'allows_' + purpose + '_' + (key || '');
    const givesKey = purpose === 'third_party_sharing' ? 'gives_third_party' : 'gives_' + purpose + '_' + (key || '');
    // In the all-devices view, say where a device has its own setting.
    const exceptions = [];
    if (!tp) {
      for (const other of VIEW_TOUCHPOINTS.slice(1)) {
        const o = decide(purpose, key, recipient, other);
        if (isOn(o) !== isOn(e)) exceptions.push(h('span', { class: 'badge badge-info' }, t('except', { tp: t('tp_' + other), state: isOn(o) ? t('on') : t('off') })));
      }
    }
    const sw = h('input', {
      type: 'checkbox', role: 'switch', class: 'switch', id,
      checked: isOn(e),
      'data-purpose': purpose, 'data-key': key || '', 'data-recipient': recipient || '', 'data-touchpoint': tp || '',
      'aria-describedby': id + '-allows ' + id + '-state',
      onchange: (ev) => onConsentToggle(ev.currentTarget, purpose, key, recipient, tp, name),
    });
    return h('li', { class: 'consent-row', id: 'row-' + id, 'data-status': e ? e.status : 'none' },
      h('div', { class: 'consent-text' },
        h('label', { for: id, class: 'consent-name', text: name }),
        h('p', { id: id + '-allows', class: 'consent-allows' }, h('strong', { text: t('allows') }), t(allowsKey, { r: recipient })),
        h('p', { class: 'consent-gives' }, h('strong', { text: t('gives') }), t(givesKey, { r: recipient })),
        h('p', { id: id + '-state', class: 'consent-state' },
          statusBadge(e),
          e && e.since ? h('small', { class: 'muted', text: t('since', { date: fmtDate(e.since) }) }) : null,
          exceptions,
          e && e.status === 'granted' && e.allowed === false && e.reason === 'minor_without_guardian' ? h('small', { class: 'error', text: t('minor_note') }) : null)),
      h('div', { class: 'consent-switch' }, sw));
  }

  async function onConsentToggle(input, purpose, key, recipient, tp, name) {
    const grant = input.checked;
    if (S.pending.has(input.id)) { input.checked = !grant; return; }
    if (!grant && HARD_TO_UNDO.has(purpose)) {
      input.checked = true; // until confirmed
      const ok = await confirmDialog({
        title: t('confirm_withdraw_h', { item: name }),
        body: [h('p', { text: t('confirm_withdraw_' + purpose) }), tp ? h('p', { text: t('confirm_withdraw_scope', { tp: t('tp_' + tp) }) }) : null],
        ok: t('withdraw_btn'),
        cancel: t('keep_btn'),
      });
      input.focus();
      if (!ok) return;
      input.checked = false;
    }
    const rec = { purpose, status: grant ? 'granted' : 'withdrawn', source: 'me' };
    if (purpose === 'marketing') rec.channel = key;
    if (purpose === 'personalization' && key) rec.signal = key;
    if (recipient) rec.recipient = recipient;
    if (tp) rec.touchpoint = tp;
    const notice = noticeFor(purpose);
    if (notice) rec.notice_version = notice.version;
    S.pending.add(input.id);
    input.setAttribute('aria-busy', 'true');
    try {
      await api('POST', userPath('/consents'), { body: { records: [rec] } });
      toast(t(grant ? 'toast_granted' : 'toast_withdrawn', { item: name }));
      await loadConsents();
      renderConsents();
      renderPrefForm('channels'); // the channel notes depend on consents
      refreshActivity();
    } catch (e) {
      input.checked = !grant;
      toast(problemText(e), true);
    } finally {
      S.pending.delete(input.id);
      const again = $(input.id);
      if (again) again.removeAttribute('aria-busy');
    }
  }

  // ------------------------------------------------------------ dialog

  // confirmDialog asks a question in a modal dialog and answers true when
  // the shopper confirms. With check, a checkbox must be ticked first.
  function confirmDialog({ title, body, ok, cancel, check }) {
    const dlg = $('dialog');
    const okBtn = $('dialog-ok');
    $('dialog-title').textContent = title;
    okBtn.textContent = ok;
    $('dialog-cancel').textContent = cancel || t('cancel');
    const nodes = [].concat(body);
    if (check) {
      const box = h('input', { type: 'checkbox', id: 'dialog-check', onchange: () => { okBtn.disabled = !box.checked; } });
      nodes.push(h('p', null, h('label', { class: 'check', for: 'dialog-check' }, box, h('span', { text: check }))));
    }
    $('dialog-body').replaceChildren(...nodes.filter(Boolean));
    okBtn.disabled = Boolean(check);
    const opener = document.activeElement;
    dlg.returnValue = '';
    return new Promise((resolve) => {
      dlg.addEventListener('close', () => {
        if (opener && opener.isConnected) opener.focus({ preventScroll: true });
        resolve(dlg.returnValue === 'ok');
      }, { once: true });
      dlg.showModal();
      $('dialog-cancel').focus();
    });
  }

  // ------------------------------------------------------- preferences

  const PREF_FORMS = ['channels', 'quiet', 'order', 'offers', 'cats', 'lang'];

  function renderPrefs(all) {
    const box = $('prefs');
    if (!box) return;
    if (all || !$('prefs-meta')) {
      replace(box,
        h('h2', { id: 'prefs-h', text: t('prefs_h') }),
        h('p', { text: t('prefs_p') }),
        h('p', { class: 'hint', id: 'prefs-meta' }),
        h('div', { class: 'pref-grid' }, PREF_FORMS.map((f) => h('div', { class: 'pref-box', id: 'box-' + f }))));
      S.dirty.clear();
      S.stale.clear();
      S.draft = {};
    }
    renderPrefsMeta();
    for (const f of PREF_FORMS) renderPrefForm(f);
  }

  function renderPrefsMeta() {
    const meta = $('prefs-meta');
    if (!meta || !S.prefs) return;
    meta.textContent = S.prefs.updated_at ? t('prefs_version', { v: S.prefs.version, date: fmtDate(S.prefs.updated_at) }) : '';
  }

  // renderPrefForm draws one preference form from S.prefs, unless the
  // shopper is editing it: then it only says it changed elsewhere.
  function renderPrefForm(name, force) {
    const box = $('box-' + name);
    if (!box || !S.prefs) return;
    if (S.dirty.has(name) && !force) {
      if (S.stale.has(name) && !box.querySelector('.stale')) {
        box.prepend(h('div', { class: 'alert alert-warn stale', role: 'status' },
          h('span', { text: t('changed_elsewhere') + ' ' }),
          h('button', { type: 'button', class: 'btn btn-small', id: 'latest-' + name, text: t('show_latest'),
            onclick: () => { S.dirty.delete(name); S.stale.delete(name); delete S.draft[name]; renderPrefForm(name, true); $('pf-' + name + '-h').focus(); } })));
      }
      return;
    }
    S.dirty.delete(name);
    S.stale.delete(name);
    const builders = { channels: channelsForm, quiet: quietForm, order: orderForm, offers: offersForm, cats: catsForm, lang: langForm };
    replace(box, builders[name]());
  }

  function prefForm(name, title, fields, collect) {
    const errBox = h('div', { id: 'pf-' + name + '-error', class: 'alert alert-error', role: 'alert', hidden: true });
    const form = h('form', { id: 'pf-' + name, class: 'pref-form', novalidate: true, 'aria-labelledby': 'pf-' + name + '-h',
      oninput: () => S.dirty.add(name),
      onchange: () => S.dirty.add(name),
      onsubmit: async (ev) => {
        ev.preventDefault();
        errBox.hidden = true;
        for (const el of form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
        await savePrefs(name, collect(form), form, errBox);
      } },
    h('h3', { id: 'pf-' + name + '-h', tabindex: '-1', text: title }),
    fields,
    errBox,
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'btn btn-primary', id: 'pf-' + name + '-save', text: t('save') })));
    return form;
  }

  async function savePrefs(name, patch, form, errBox) {
    const btn = $('pf-' + name + '-save');
    if (btn) btn.disabled = true;
    try {
      const { data } = await call('PATCH', userPath('/preferences'), {
        body: patch,
        headers: { 'Content-Type': 'application/merge-patch+json', 'If-Match': '"' + S.prefs.version + '"' },
      });
      S.prefs = data;
      S.dirty.delete(name);
      delete S.draft[name];
      toast(t('saved'));
      if (name === 'lang' && !chosenLang()) {
        setLang(pickLang(), false);
        renderApp();
        $('pf-lang-save') && $('pf-lang-save').focus();
      } else {
        renderPrefsMeta();
        for (const f of PREF_FORMS) renderPrefForm(f);
      }
      refreshActivity();
    } catch (e) {
      if (e instanceof ApiError && e.status === 412) {
        await loadPrefs().catch(() => {});
        S.dirty.delete(name);
        delete S.draft[name];
        renderPrefsMeta();
        renderPrefForm(name, true);
        const box = $('pf-' + name + '-error');
        if (box) { box.replaceChildren(h('p', { text: t('conflict') })); box.hidden = false; }
        return;
      }
      errBox.replaceChildren(...problemNodes(e, form));
      errBox.hidden = false;
      let first = null;
      if (e instanceof ApiError && e.problem && Array.isArray(e.problem.errors)) {
        for (const x of e.problem.errors) {
          const el = fieldControl(form, x.field);
          if (el) {
            el.setAttribute('aria-invalid', 'true');
            first = first || el;
          }
        }
      }
      if (first) first.focus();
    } finally {
      const again = $('pf-' + name + '-save');
      if (again) again.disabled = false;
    }
  }

  function channelLabel(ch) { return t('item_marketing_' + ch); }

  function channelsForm() {
    const chans = S.prefs.channels || {};
    const rows = CHANNELS.map((ch) => {
      const p = chans[ch] || { enabled: true, max_per_day: 0, max_per_week: 0 };
      const consent = decide('marketing', ch, '', '');
      return h('fieldset', { class: 'pref-channel', id: 'pref-' + ch },
        h('legend', { text: channelLabel(ch) }),
        h('label', { class: 'check', for: 'pref-' + ch + '-on' },
          h('input', { type: 'checkbox', role: 'switch', class: 'switch', id: 'pref-' + ch + '-on', checked: p.enabled !== false }),
          h('span', { text: t('ch_receive', { ch: t('lc_' + ch) }) })),
        h('div', { class: 'row' },
          h('div', { class: 'field' },
            h('label', { for: 'pref-' + ch + '-day', text: t('per_day') }),
            h('input', { type: 'number', id: 'pref-' + ch + '-day', min: '0', max: '1000', step: '1', inputmode: 'numeric',
              value: String(p.max_per_day || 0), 'data-field': ch + '.max_per_day', 'aria-describedby': 'cap-hint' })),
          h('div', { class: 'field' },
            h('label', { for: 'pref-' + ch + '-week', text: t('per_week') }),
            h('input', { type: 'number', id: 'pref-' + ch + '-week', min: '0', max: '7000', step: '1', inputmode: 'numeric',
              value: String(p.max_per_week || 0), 'data-field': ch + '.max_per_week', 'aria-describedby': 'cap-hint' }))),
        isOn(consent) ? null : h('p', { class: 'hint', id: 'pref-' + ch + '-note', text: t('ch_no_consent') }));
    });
    return prefForm('channels', t('pf_channels_h'), [h('p', { class: 'hint', id: 'cap-hint', text: t('cap_hint') }), h('div', { class: 'pref-channels' }, rows)], (form) => {
      const channels = {};
      for (const ch of CHANNELS) {
        channels[ch] = {
          enabled: form.querySelector('#pref-' + ch + '-on').checked,
          max_per_day: intOf(form.querySelector('#pref-' + ch + '-day').value),
          max_per_week: intOf(form.querySelector('#pref-' + ch + '-week').value),
        };
      }
      return { channels };
    });
  }

  function intOf(v) {
    const n = Number(String(v).trim() || '0');
    return Number.isFinite(n) ? Math.trunc(n) : v;
  }

  function quietForm() {
    const q = S.prefs.quiet_hours;
    const on = Boolean(q);
    const tz = (S.user && S.user.time_zone) || Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
    const start = h('input', { type: 'time', id: 'quiet-start', value: q ? q.start : '22:00', disabled: !on, 'data-field': 'quiet_hours.start', 'aria-describedby': 'quiet-hint' });
    const end = h('input', { type: 'time', id: 'quiet-end', value: q ? q.end : '08:00', disabled: !on, 'data-field': 'quiet_hours.end', 'aria-describedby': 'quiet-hint' });
    const toggle = h('input', { type: 'checkbox', role: 'switch', class: 'switch', id: 'quiet-on', checked: on,
      onchange: () => { start.disabled = end.disabled = !toggle.checked; } });
    return prefForm('quiet', t('pf_quiet_h'), [
      h('label', { class: 'check', for: 'quiet-on' }, toggle, h('span', { text: t('quiet_on') })),
      h('div', { class: 'row' },
        h('div', { class: 'field' }, h('label', { for: 'quiet-start', text: t('quiet_start') }), start),
        h('div', { class: 'field' }, h('label', { for: 'quiet-end', text: t('quiet_end') }), end)),
      h('p', { class: 'hint', id: 'quiet-hint', text: t('quiet_hint', { tz }) }),
    ], () => ({ quiet_hours: toggle.checked ? { start: start.value.slice(0, 5), end: end.value.slice(0, 5) } : null }));
  }

  function orderForm() {
    if (!S.draft.order) {
      const order = (S.prefs.channel_order || []).filter((c) => CHANNELS.includes(c));
      for (const c of CHANNELS) if (!order.includes(c)) order.push(c);
      S.draft.order = order;
    }
    const order = S.draft.order;
    const move = (ch, by) => {
      const i = order.indexOf(ch), j = i + by;
      if (j < 0 || j >= order.length) return;
      [order[i], order[j]] = [order[j], order[i]];
      S.dirty.add('order');
      const keep = by < 0 ? 'order-up-' + ch : 'order-down-' + ch;
      replace($('order-list'), orderItems(order, move));
      const btn = $(keep);
      if (btn && !btn.disabled) btn.focus();
      else { const other = $(by < 0 ? 'order-down-' + ch : 'order-up-' + ch); if (other) other.focus(); }
      $('order-status').textContent = order.map((c, k) => (k + 1) + '. ' + channelLabel(c)).join(t('sep'));
    };
    return prefForm('order', t('pf_order_h'), [
      h('p', { class: 'hint', id: 'order-hint', text: t('order_hint') }),
      h('ol', { class: 'order-list', id: 'order-list', 'aria-describedby': 'order-hint' }, orderItems(order, move)),
      h('p', { class: 'visually-hidden', id: 'order-status', 'aria-live': 'polite' }),
    ], () => ({ channel_order: order.slice() }));
  }

  function orderItems(order, move) {
    return order.map((ch, i) => h('li', { class: 'order-item', 'data-channel': ch },
      h('span', { class: 'order-name', text: channelLabel(ch) }),
      h('span', { class: 'order-buttons' },
        h('button', { type: 'button', class: 'btn btn-small', id: 'order-up-' + ch, disabled: i === 0,
          'aria-label': t('move_up', { ch: channelLabel(ch) }), onclick: () => move(ch, -1) }, h('span', { 'aria-hidden': 'true', text: '↑ ' }), t('up')),
        h('button', { type: 'button', class: 'btn btn-small', id: 'order-down-' + ch, disabled: i === order.length - 1,
          'aria-label': t('move_down', { ch: channelLabel(ch) }), onclick: () => move(ch, 1) }, h('span', { 'aria-hidden': 'true', text: '↓ ' }), t('down')))));
  }

  function offersForm() {
    const chosen = new Set(S.prefs.offer_types || []);
    const warn = h('p', { class: 'alert alert-warn', id: 'offers-none', hidden: chosen.size > 0, text: t('offers_none') });
    const boxes = OFFER_TYPES.map((o) => h('label', { class: 'check offer', for: 'offer-' + o },
      h('input', { type: 'checkbox', id: 'offer-' + o, value: o, checked: chosen.has(o), 'aria-describedby': 'offer-' + o + '-d',
        onchange: (ev) => { warn.hidden = Boolean(ev.currentTarget.form.querySelector('.offer input:checked')); } }),
      h('span', null, h('span', { class: 'offer-name', text: t('offer_' + o) }), ' ', h('small', { class: 'muted', id: 'offer-' + o + '-d', text: t('offer_' + o + '_d') }))));
    return prefForm('offers', t('pf_offers_h'), [
      h('p', { class: 'hint', text: t('offers_hint') }),
      h('div', { class: 'offer-list' }, boxes),
      warn,
    ], (form) => ({ offer_types: OFFER_TYPES.filter((o) => form.querySelector('#offer-' + o).checked) }));
  }

  function catsForm() {
    if (!S.draft.cats) S.draft.cats = (S.prefs.categories || []).slice();
    const cats = S.draft.cats;
    const list = h('ul', { class: 'chips', id: 'cat-list' });
    const suggest = h('p', { class: 'suggest', id: 'cat-suggest' });
    const input = h('input', { type: 'text', id: 'cat-new', maxlength: '64', autocomplete: 'off', 'data-field': 'categories' });
    const redraw = (focusID) => {
      replace(list, cats.length ? cats.map((c) => h('li', { class: 'chip' },
        h('span', { text: c }),
        h('button', { type: 'button', id: 'cat-rm-' + idPart(c), 'aria-label': t('cat_remove', { c }),
          onclick: () => {
            const i = cats.indexOf(c);
            if (i >= 0) cats.splice(i, 1);
            S.dirty.add('cats');
            redraw('cat-new');
          } }, h('span', { 'aria-hidden': 'true', text: '×' })))) : [h('li', { class: 'muted', text: t('cats_empty') })]);
      const fromTags = S.interests.tags.map((x) => x.tag).filter((x) => x.startsWith('category:')).map((x) => x.slice(9)).filter((c) => c && !cats.includes(c));
      replace(suggest, fromTags.length ? [h('span', { class: 'muted', text: t('cats_suggest') + ' ' }), fromTags.map((c) => h('button', { type: 'button', class: 'btn btn-small btn-quiet',
        id: 'cat-sg-' + idPart(c), 'aria-label': t('cat_suggest_btn', { c }), onclick: () => { add(c); } }, '+ ' + c))] : []);
      if (focusID && $(focusID)) $(focusID).focus();
    };
    const add = (v) => {
      v = String(v || '').trim();
      if (!v || cats.includes(v)) return;
      cats.push(v);
      S.dirty.add('cats');
      redraw('cat-new');
    };
    redraw();
    return prefForm('cats', t('pf_cats_h'), [
      h('p', { class: 'hint', text: t('cats_hint') }),
      list,
      h('div', { class: 'field' },
        h('label', { for: 'cat-new', text: t('cat_new') }),
        h('div', { class: 'row' }, input,
          h('button', { type: 'button', class: 'btn', id: 'cat-add', text: t('cat_add'), onclick: () => { add(input.value); input.value = ''; } }))),
      suggest,
    ], () => {
      if (input.value.trim()) { add(input.value); input.value = ''; }
      return { categories: cats.slice() };
    });
  }

  function langForm() {
    const cur = normLang(S.prefs.language) || '';
    return prefForm('lang', t('pf_lang_h'), [
      h('div', { class: 'field' },
        h('label', { for: 'pref-language', text: t('pref_language') }),
        h('select', { id: 'pref-language', 'data-field': 'language', value: cur },
          h('option', { value: '', text: t('lang_follow') }),
          h('option', { value: 'zh-CN', lang: 'zh-CN', text: '中文' }),
          h('option', { value: 'en', lang: 'en', text: 'English' }))),
    ], (form) => ({ language: form.querySelector('#pref-language').value || null }));
  }

  // --------------------------------------------------------- interests

  function tagLabel(tag) {
    if (tag.startsWith('category:')) return t('tag_category', { v: tag.slice(9) });
    if (tag.startsWith('tag:')) return t('tag_tag', { v: tag.slice(4) });
    return tag;
  }

  function renderInterests() {
    const box = $('interests');
    if (!box) return;
    const tags = S.interests.tags;
    const max = Math.max(1e-9, ...tags.map((x) => x.weight || 0));
    replace(box,
      h('h2', { id: 'interests-h', tabindex: '-1', text: t('interests_h') }),
      h('p', { text: t('interests_p') }),
      tags.length ? h('ul', { class: 'interest-list', id: 'interest-list' }, tags.map((x) => {
        const label = tagLabel(x.tag);
        const mid = 'w-' + idPart(x.tag);
        return h('li', { class: 'interest', 'data-tag': x.tag },
          h('span', { class: 'interest-name', id: mid + '-n', text: label }),
          h('meter', { id: mid, min: '0', max: String(max), value: String(x.weight || 0), 'aria-label': t('weight') + ' ' + label }),
          h('button', { type: 'button', class: 'btn btn-small', 'data-tag': x.tag, id: 'del-' + idPart(x.tag),
            'aria-label': t('tag_delete_label', { t: label }), onclick: () => deleteTag(x.tag) }, t('tag_delete')));
      })) : h('p', { class: 'muted', id: 'interests-empty', text: t('interests_empty') }),
      S.interests.deleted.length ? h('p', { class: 'hint', id: 'interests-deleted' }, t('interests_deleted') + ' ',
        S.interests.deleted.map(tagLabel).join(t('sep'))) : null);
  }

  async function deleteTag(tag) {
    const label = tagLabel(tag);
    const ok = await confirmDialog({ title: t('confirm_tag_h', { t: label }), body: h('p', { text: t('confirm_tag_p') }), ok: t('delete_btn') });
    if (!ok) return;
    try {
      await api('DELETE', userPath('/interests/' + encodeURIComponent(tag)));
      toast(t('toast_tag_deleted', { t: label }));
      await loadInterests();
      renderInterests();
      if (!S.dirty.has('cats')) renderPrefForm('cats');
      $('interests-h').focus();
      refreshActivity();
    } catch (e) {
      toast(problemText(e), true);
    }
  }

  // ---------------------------------------------------------- activity

  function actorName(a) {
    const k = 'actor_' + (a || 'system');
    return has(k) ? t(k) : a;
  }
  function channelName(ch) { return ch ? t('lc_' + ch) : t('ch_marketing'); }
  function signalNames(sigs) { return (sigs || []).map((s) => (has('sig_' + s) ? t('sig_' + s) : s)).join(t('sep')); }
  function reasonText(r) { return has('r_' + r) ? t('r_' + r) : r; }

  // describe turns a usage-log entry into a badge, a title and lines.
  function describe(e) {
    const d = e.detail || '';
    const camp = /^campaign (\S+), occurrence ([^:]+):/.exec(d);
    const offer = /; offer: (.+)$/.exec(d);
    const campLine = offer ? t('campaign_offer', { o: offer[1] }) : camp ? t('campaign_ref', { c: camp[1], o: camp[2] }) : '';
    switch (e.action) {
      case 'recommendation': {
        const m = /^(\w+) list of (\d+) items/.exec(d);
        const strat = m && has('strategy_' + m[1]) ? t('strategy_' + m[1]) : m ? m[1] : '';
        return { badge: ['badge-info', t('badge_rec')], title: t('act_recommendation'), lines: [
          m ? t(m[2] === '1' && has('rec_list_one') ? 'rec_list_one' : 'rec_list', { s: strat, n: m[2] }) : d,
          e.signals && e.signals.length ? t('rec_personalized', { signals: signalNames(e.signals) }) : t('rec_not_personalized'),
        ] };
      }
      case 'message_sent': {
        const rec = /consent record (\S+)/.exec(d);
        return { badge: ['badge-ok', t('badge_sent')], title: t('act_message_sent', { ch: channelName(e.channel) }),
          lines: [campLine, rec ? t('consent_proof', { id: rec[1] }) : ''] };
      }
      case 'message_suppressed':
        return { badge: ['badge-danger', t('badge_suppressed')], title: t('act_message_suppressed', { ch: channelName(e.channel) }),
          lines: [t('why', { r: reasonText(e.reason) }), campLine], reason: true };
      case 'message_failed':
        return { badge: ['badge-danger', t('badge_failed')], title: t('act_message_failed', { ch: channelName(e.channel) }),
          lines: [t('why', { r: reasonText(e.reason || 'failed') }), campLine] };
      case 'consent_change': {
        const tpm = / on (\w+)$/.exec(d);
        const rm = /^\w+ third_party_sharing\/(.+?)( on \w+)?$/.exec(d);
        let what = t('purpose_' + e.purpose);
        if (e.channel) what += ' · ' + channelLabel(e.channel);
        else if (e.signals && e.signals.length) what += ' · ' + signalNames(e.signals);
        else if (rm) what += ' · ' + rm[1];
        const how = (has('cs_' + e.reason) ? t('cs_' + e.reason) : e.reason || '') + (tpm && has('tp_' + tpm[1]) ? t('only_tp', { tp: t('tp_' + tpm[1]) }) : '');
        return { badge: ['', t('badge_consent')], title: t('act_consent_change', { what, how }), lines: [] };
      }
      case 'preference_change':
        return { badge: ['', t('badge_prefs')], title: t('act_preference_change'), lines: [] };
      case 'interest_deleted':
        return { badge: ['', t('badge_prefs')], title: t('act_interest_deleted', { t: tagLabel(d.replace(/^deleted interest tag /, '')) }), lines: [] };
      case 'events_collected': {
        const n = /^stored (\d+)/.exec(d);
        const dropped = /dropped (\d+)/.exec(d);
        return { badge: ['', t('badge_data')], title: n ? t('act_events_collected', { n: n[1] }) : d,
          lines: [e.signals && e.signals.length ? t('ev_kinds', { k: signalNames(e.signals) }) : '', dropped ? t('events_dropped', { n: dropped[1] }) : ''] };
      }
      case 'access_denied':
        return { badge: ['badge-danger', t('badge_denied')], title: t('act_access_denied'), lines: [] };
      default:
        if (has('act_' + e.action)) return { badge: ['', t('badge_data')], title: t('act_' + e.action), lines: [] };
        return { badge: ['', t('badge_data')], title: e.action, lines: [d] };
    }
  }

  function renderActivity() {
    const box = $('activity');
    if (!box) return;
    replace(box,
      h('h2', { id: 'activity-h', text: t('activity_h') }),
      h('p', { text: t('activity_p') }),
      S.activity.length ? h('ol', { class: 'activity-list', id: 'activity-list' }, S.activity.map((e) => {
        const x = describe(e);
        return h('li', { class: 'act', id: 'act-' + idPart(e.id), 'data-action': e.action, 'data-reason': e.reason || '' },
          h('div', { class: 'act-head' },
            h('span', { class: 'badge ' + x.badge[0], text: x.badge[1] }),
            h('strong', { class: 'act-title', text: x.title }),
            h('time', { datetime: e.at, class: 'muted', text: fmtDate(e.at) })),
          x.lines.filter(Boolean).map((l, i) => h('p', { class: i === 0 && x.reason ? 'act-reason' : 'act-line', text: l })),
          h('p', { class: 'act-meta muted' }, h('small', null,
            t('by', { actor: actorName(e.actor) }),
            e.decision_id ? [' · ', t('decision', { id: e.decision_id })] : null)));
      })) : h('p', { class: 'muted', text: t('activity_empty') }),
      S.next ? h('div', { class: 'actions' }, h('button', { type: 'button', class: 'btn', id: 'act-more', text: t('more'), onclick: moreActivity })) : null);
  }

  async function moreActivity() {
    try {
      const d = await api('GET', userPath('/activity?limit=50&cursor=' + encodeURIComponent(S.next)));
      const seen = new Set(S.activity.map((e) => e.id));
      S.activity = S.activity.concat((d.entries || []).filter((e) => !seen.has(e.id)));
      S.next = d.next_cursor || '';
      renderActivity();
      if (!$('act-more')) {
        $('activity-h').setAttribute('tabindex', '-1');
        $('activity-h').focus();
      }
    } catch (e) {
      toast(problemText(e), true);
    }
  }

  // mergeActivity adds the entries of a fresh first page that are new and
  // returns them.
  function mergeActivity(entries) {
    const seen = new Set(S.activity.map((e) => e.id));
    const fresh = (entries || []).filter((e) => !seen.has(e.id));
    if (fresh.length) S.activity = fresh.concat(S.activity);
    return fresh;
  }

  async function refreshActivity() {
    try {
      await sync(false);
    } catch { /* the next poll tries again */ }
  }

  // -------------------------------------------------------------- data

  function renderData() {
    const box = $('data');
    if (!box) return;
    replace(box,
      h('h2', { id: 'data-h', text: t('data_h') }),
      h('div', { class: 'data-grid' },
        h('section', { 'aria-labelledby': 'export-h' },
          h('h3', { id: 'export-h', text: t('export_h') }),
          h('p', { text: t('export_p') }),
          h('button', { type: 'button', class: 'btn btn-primary', id: 'export-btn', text: t('export_btn'), onclick: exportData }),
          h('p', { class: 'hint', id: 'export-status', role: 'status' })),
        h('section', { 'aria-labelledby': 'erase-h', class: 'danger-zone' },
          h('h3', { id: 'erase-h', text: t('erase_h') }),
          h('p', { text: t('erase_p') }),
          h('button', { type: 'button', class: 'btn btn-danger', id: 'erase-btn', text: t('erase_btn'), onclick: eraseData }))));
  }

  async function exportData() {
    const btn = $('export-btn');
    btn.disabled = true;
    try {
      const { data } = await call('GET', userPath('/export'), { blob: true });
      const blob = new Blob([data], { type: 'application/json' });
      const url = URL.createObjectURL(blob);
      const day = new Date().toISOString().slice(0, 10);
      const a = h('a', { href: url, download: 'heed-export-' + String(S.uid).replace(/[^A-Za-z0-9_.-]/g, '_') + '-' + day + '.json', hidden: true });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60000);
      $('export-status').textContent = t('export_done');
      refreshActivity();
    } catch (e) {
      toast(problemText(e), true);
    } finally {
      const again = $('export-btn');
      if (again) { again.disabled = false; again.focus({ preventScroll: true }); }
    }
  }

  async function eraseData() {
    const ok = await confirmDialog({ title: t('confirm_erase_h'), body: h('p', { text: t('confirm_erase_p') }),
      ok: t('erase_ok'), check: t('confirm_erase_check') });
    if (!ok) return;
    try {
      await api('DELETE', userPath());
    } catch (e) {
      toast(problemText(e), true);
      return;
    }
    try { await api('POST', '/session/delete'); } catch { /* gone with the user anyway */ }
    stopPolling();
    S.uid = '';
    $('signout').hidden = true;
    $('me-nav').hidden = true;
    replace($('main'), h('section', { class: 'card', id: 'erased', 'aria-labelledby': 'erased-h' },
      h('h1', { id: 'erased-h', tabindex: '-1', text: t('erased_h') }),
      h('p', { text: t('erased_p') })));
    $('erased-h').focus();
  }

  // ------------------------------------------------------------ polling
  //
  // Every change to a shopper's consents, preferences or interest tags,
  // from any device, writes the usage log; so a poll reads the newest
  // entries of the log and then fetches only what they say changed. Every
  // FULL_EVERY polls it reads everything anyway (a consent that expired
  // changes nothing in the log). A hidden page polls five times slower.

  const FULL_EVERY = 15;
  const CHANGES = {
    consent_change: ['consents'],
    identity_merge: ['consents', 'prefs', 'interests'],
    preference_change: ['prefs'],
    interest_deleted: ['interests'],
    events_collected: ['interests'],
  };
  let pollTimer = 0;
  let polling = false;
  let ticks = 0;

  function startPolling() {
    stopPolling();
    pollTimer = setInterval(poll, POLL_MS);
  }
  function stopPolling() {
    if (pollTimer) clearInterval(pollTimer);
    pollTimer = 0;
  }

  async function poll() {
    ticks++;
    if (polling || !S.uid) return;
    if (document.visibilityState === 'hidden' && ticks % 5 !== 0) return;
    polling = true;
    try {
      await sync(ticks % FULL_EVERY === 0);
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) showSignIn(t('session_ended'), true);
      else if (e instanceof ApiError && e.status === 404) showGone();
      // anything else: try again at the next tick
    } finally {
      polling = false;
    }
  }

  // sync reads the newest usage-log entries and what they changed (with
  // full, everything), and redraws only the parts that differ.
  async function sync(full) {
    const uid = S.uid;
    const act = await api('GET', userPath('/activity?limit=50'));
    if (uid !== S.uid) return;
    const fresh = mergeActivity(act.entries);
    const need = new Set(full ? ['consents', 'prefs', 'interests'] : []);
    for (const e of fresh) for (const what of CHANGES[e.action] || []) need.add(what);
    const [user, consents, prefs, interests] = await Promise.all([
      full ? api('GET', userPath()) : null, // 404 once the account is erased
      need.has('consents') ? api('GET', userPath('/consents')) : null,
      need.has('prefs') ? api('GET', userPath('/preferences')) : null,
      need.has('interests') ? api('GET', userPath('/interests')) : null,
    ]);
    if (uid !== S.uid) return; // signed out meanwhile
    if (user) S.user = user;
    let consentsChanged = false;
    if (consents) {
      const eff = consents.effective || [];
      consentsChanged = JSON.stringify(eff) !== JSON.stringify(S.consents);
      if (consentsChanged) {
        S.consents = eff;
        if (!document.querySelector('.consent-row [aria-busy="true"]')) renderConsents();
      }
    }
    if (prefs && prefs.version !== S.prefs.version) {
      S.prefs = prefs;
      if (!chosenLang() && pickLang() !== lang) { // the language preference changed
        setLang(pickLang(), false);
        renderApp();
        return;
      }
      for (const f of PREF_FORMS) if (S.dirty.has(f)) S.stale.add(f);
      renderPrefsMeta();
      for (const f of PREF_FORMS) renderPrefForm(f);
    } else if (consentsChanged && !S.dirty.has('channels')) {
      renderPrefForm('channels'); // its notes follow the consents
    }
    if (interests) {
      const tags = { tags: interests.tags || [], deleted: interests.deleted || [] };
      if (JSON.stringify(tags) !== JSON.stringify(S.interests)) {
        S.interests = tags;
        renderInterests();
        if (!S.dirty.has('cats')) renderPrefForm('cats');
      }
    }
    if (fresh.length) renderActivity();
  }

  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible' && S.uid) poll();
  });

  // --------------------------------------------------------------- boot

  function boot() {
    setLang(chosenLang() || 'zh-CN', false);
    $('lang').addEventListener('change', (ev) => {
      setLang(ev.currentTarget.value, true);
      if (S.uid) renderApp();
      else if ($('signin')) showSignIn(...(S.signinNote || []));
      $('lang').focus();
    });
    $('signout').addEventListener('click', signOut);
    start();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', boot);
  else boot();
})();
