package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"heed/campaigns"
	"heed/engine"
)

// A route is one operation of the API: what serves it, who may call it and
// how the OpenAPI document describes it.
type route struct {
	method string
	path   string // gin syntax: /v1/users/:id
	// action is the authz action the policy decides on; "" only for the
	// public routes outside /v1 (operations, unsubscribe links), which
	// need no credentials.
	action string
	// owner names the path parameter holding the user whose data the route
	// touches; "" when it touches no one user's data.
	owner   string
	id      string // OpenAPI operationId
	tag     string
	summary string
	params  []param  // query and header parameters
	body    []media  // request body; nil: none
	status  int      // success status
	resp    []media  // success body; nil: none
	headers []string // success response headers, from openAPIHeaders
	errors  []int    // problem statuses beyond those implied (see operation)
	// optional marks a body that may be left out (empty).
	optional bool
	// stream marks a body read as a stream, not bound by Config.MaxBody.
	stream  bool
	handler gin.HandlerFunc
}

// A param is a query or header parameter.
type param struct {
	in, name, schema, desc string
	required               bool
}

// A media is one media type of a body and the schema (in schemas.json)
// describing it.
type media struct{ typ, schema string }

func jsonBody(schema string) []media { return []media{{"application/json", schema}} }

func query(name, schema, desc string) param {
	return param{in: "query", name: name, schema: schema, desc: desc}
}

var ifMatchParam = param{in: "header", name: "If-Match", schema: "VersionTag",
	desc: "Only change the preferences if they are at this version (the ETag), quoted or not; 412 otherwise."}

var campaignIfMatch = param{in: "header", name: "If-Match", schema: "VersionTag",
	desc: "Only change the campaign if it is at this version (its version member), quoted or not; 412 otherwise."}

// campaignServiceOf returns cs as the campaign routes' service, nil
// (every campaign route answers 503) if cs is nil.
func campaignServiceOf(cs *campaigns.Service) campaignService {
	if cs == nil {
		return nil
	}
	return cs
}

// routes is the whole HTTP surface, in one table.
func (sv *server) routes() []route {
	s := sv.cfg.Service
	wops := func() workerOps {
		if sv.cfg.Campaigns == nil {
			return nil // not a typed nil in the interface
		}
		return sv.cfg.Campaigns
	}
	cs := campaignServiceOf(sv.cfg.Campaigns)
	const (
		ok       = http.StatusOK
		created  = http.StatusCreated
		accepted = http.StatusAccepted
		none     = http.StatusNoContent
	)
	return []route{
		// Users, identities, data rights.
		{method: "PUT", path: "/v1/users/:id", action: "users.write", owner: "id", id: "putUser", tag: "users",
			summary: "Create or update a user's profile.",
			body:    jsonBody("Profile"), status: ok, resp: jsonBody("User"), handler: handleUserPut(s)},
		{method: "GET", path: "/v1/users/:id", action: "users.read", owner: "id", id: "getUser", tag: "users",
			summary: "Get a user, with derived order_count and first_purchase_at.",
			status:  ok, resp: jsonBody("User"), handler: handleUserGet(s)},
		{method: "DELETE", path: "/v1/users/:id", action: "users.erase", owner: "id", id: "eraseUser", tag: "users",
			summary: "Erase everything held about a user; only the minimal proof of consent stays.",
			status:  none, handler: handleUserErase(s)},
		{method: "GET", path: "/v1/users/:id/export", action: "users.export", owner: "id", id: "exportUser", tag: "users",
			summary: "Export everything heed holds about a user.",
			status:  ok, resp: jsonBody("Export"), handler: handleUserExport(s)},
		{method: "POST", path: "/v1/users/:id/token", action: "tokens.issue", owner: "id", id: "issueToken", tag: "users",
			summary: "Issue a shopper token that lets its holder read and change only this user's own data.",
			status:  created, resp: jsonBody("Token"), handler: handleTokenIssue(s)},
		{method: "POST", path: "/v1/users/:id/identities", action: "identities.write", owner: "id", id: "addIdentity", tag: "identities",
			summary: "Link an identity to a user; 409 if another user holds it, unless merge is true.",
			body:    jsonBody("IdentityInput"), status: created, resp: jsonBody("User"), errors: []int{409}, handler: handleIdentityAdd(s)},
		{method: "GET", path: "/v1/identities/:type/:value", action: "identities.read", id: "resolveIdentity", tag: "identities",
			summary: "Find the user holding an identity.",
			status:  ok, resp: jsonBody("UserRef"), errors: []int{400, 404}, handler: handleIdentityResolve(s)},

		// Consents. The ledger is append-only: other methods on these paths are 405.
		{method: "POST", path: "/v1/users/:id/consents", action: "consents.write", owner: "id", id: "recordConsents", tag: "consents",
			summary: "Append a batch of consent records to a user's ledger, all or none.",
			body:    jsonBody("ConsentBatch"), status: created, resp: jsonBody("ConsentRecords"), handler: handleConsentAppend(s)},
		{method: "GET", path: "/v1/users/:id/consents", action: "consents.read", owner: "id", id: "getConsents", tag: "consents",
			summary: "The consent in force at every scope the user's ledger names.",
			status:  ok, resp: jsonBody("EffectiveConsents"), handler: handleConsentEffective(s)},
		{method: "GET", path: "/v1/users/:id/consents/check", action: "consents.read", owner: "id", id: "checkConsent", tag: "consents",
			summary: "Ask the consent policy whether the user's ledger allows a use now.",
			params: []param{
				{in: "query", name: "purpose", schema: "Purpose", required: true},
				query("channel", "Channel", "Only with purpose marketing."),
				query("signal", "Signal", "Only with purpose personalization."),
				query("recipient", "Recipient", "Only with purpose third_party_sharing."),
				query("touchpoint", "Touchpoint", ""),
			},
			status: ok, resp: jsonBody("ConsentCheck"), handler: handleConsentCheck(s)},
		{method: "GET", path: "/v1/users/:id/consents/history", action: "consents.read", owner: "id", id: "getConsentHistory", tag: "consents",
			summary: "Every record of the user's ledger, oldest first.",
			status:  ok, resp: jsonBody("ConsentRecords"), handler: handleConsentHistory(s)},
		{method: "GET", path: "/v1/users/:id/consents/:record", action: "consents.read", owner: "id", id: "getConsentRecord", tag: "consents",
			summary: "One record of the user's ledger, by id.",
			status:  ok, resp: jsonBody("ConsentRecord"), handler: handleConsentRecord(s)},
		{method: "PUT", path: "/v1/notices/:purpose", action: "notices.write", id: "publishNotice", tag: "consents",
			summary: "Publish a privacy-notice version for a purpose; with requires_reconsent, older grants stop counting.",
			body:    jsonBody("NoticeInput"), status: created, resp: jsonBody("Notice"), handler: handleNoticePublish(s)},
		{method: "GET", path: "/v1/notices", action: "notices.read", id: "listNotices", tag: "consents",
			summary: "Every published notice, in publication order.",
			status:  ok, resp: jsonBody("Notices"), handler: handleNoticeList(s)},

		// Preferences and interests.
		{method: "GET", path: "/v1/users/:id/preferences", action: "preferences.read", owner: "id", id: "getPreferences", tag: "preferences",
			summary: "A user's preferences; the ETag is their version.",
			status:  ok, resp: jsonBody("Preferences"), headers: []string{"ETag"}, handler: handlePreferencesGet(s)},
		{method: "PUT", path: "/v1/users/:id/preferences", action: "preferences.write", owner: "id", id: "putPreferences", tag: "preferences",
			summary: "Replace a user's preferences.",
			params:  []param{ifMatchParam}, body: jsonBody("Preferences"),
			status: ok, resp: jsonBody("Preferences"), headers: []string{"ETag"}, errors: []int{412}, handler: handlePreferencesPut(s)},
		{method: "PATCH", path: "/v1/users/:id/preferences", action: "preferences.write", owner: "id", id: "patchPreferences", tag: "preferences",
			summary: "Change part of a user's preferences with a JSON merge patch (RFC 7396).",
			params:  []param{ifMatchParam},
			body:    []media{{"application/merge-patch+json", "PreferencesPatch"}, {"application/json", "PreferencesPatch"}},
			status:  ok, resp: jsonBody("Preferences"), headers: []string{"ETag"}, errors: []int{412, 415}, handler: handlePreferencesPatch(s)},
		{method: "GET", path: "/v1/users/:id/interests", action: "interests.read", owner: "id", id: "getInterests", tag: "preferences",
			summary: "A user's interest tags and the tags the user deleted.",
			status:  ok, resp: jsonBody("Interests"), handler: handleInterestList(s)},
		{method: "DELETE", path: "/v1/users/:id/interests/:tag", action: "interests.write", owner: "id", id: "deleteInterest", tag: "preferences",
			summary: "Delete an interest tag; it is never derived or used again for this user.",
			status:  none, errors: []int{400}, handler: handleInterestDelete(s)},

		// Catalog and events.
		{method: "PUT", path: "/v1/items", action: "items.write", id: "putItems", tag: "catalog",
			summary: "Create or update a batch of catalog items, all or none.",
			body:    jsonBody("ItemBatch"), status: ok, resp: jsonBody("Upserted"), handler: handleItemsPut(s)},
		{method: "POST", path: "/v1/events", action: "events.write", id: "recordEvents", tag: "catalog",
			summary: "Record a batch of events; a bad event fails the batch, an event the collect policy refuses is dropped and reported.",
			body:    jsonBody("EventBatch"), status: ok, resp: jsonBody("EventResult"), handler: handleEventsPost(s)},
		{method: "POST", path: "/v1/import/events", action: "events.write", id: "importEvents", tag: "catalog",
			summary: "Stream events in as NDJSON (one event a line) or CSV, for history and offline-store loads.",
			body:    []media{{"application/x-ndjson", "EventNDJSON"}, {"text/csv", "EventCSV"}}, stream: true,
			status: ok, resp: jsonBody("ImportResult"), errors: []int{415}, handler: handleEventsImport(s)},

		// Recommendations.
		{method: "GET", path: "/v1/users/:id/recommendations", action: "recommendations.read", owner: "id", id: "recommend", tag: "recommendations",
			summary: "A list for a shopper, personalized only from the signals the shopper allows now; personalized false otherwise.",
			params: []param{
				query("strategy", "Strategy", "for_you (default), similar, complementary, region, new_arrivals or buy_again."),
				query("item_id", "ItemID", "The context item; required for similar and complementary."),
				query("touchpoint", "Touchpoint", "Where the list is shown; consents scoped to it apply."),
				query("region", "Region", "Keep only items sold in this region."),
				query("limit", "RecLimit", "Items, 1 to 100; default 10."),
			},
			status: ok, resp: jsonBody("Recommendations"), handler: handleRecommend(s)},
		{method: "GET", path: "/v1/items/:id/similar", action: "recommendations.read", id: "similarItems", tag: "recommendations",
			summary: "Items like this one (non-personal).",
			params:  []param{query("region", "Region", "Keep only items sold in this region."), query("limit", "RecLimit", "Items, 1 to 100; default 10.")},
			status:  ok, resp: jsonBody("Recommendations"), errors: []int{404}, handler: handleItemList(s, engine.StrategySimilar)},
		{method: "GET", path: "/v1/items/:id/complementary", action: "recommendations.read", id: "complementaryItems", tag: "recommendations",
			summary: "Items bought together with this one (non-personal).",
			params:  []param{query("region", "Region", "Keep only items sold in this region."), query("limit", "RecLimit", "Items, 1 to 100; default 10.")},
			status:  ok, resp: jsonBody("Recommendations"), errors: []int{404}, handler: handleItemList(s, engine.StrategyComplementary)},
		{method: "POST", path: "/v1/recommender/train", action: "recommender.train", id: "trainRecommender", tag: "recommendations",
			summary: "Train a new model now from the interactions users allow, and use it; answers when it is in use.",
			status:  ok, resp: jsonBody("ModelInfo"), errors: []int{503}, handler: handleTrain(sv.cfg.Trainer)},
		{method: "GET", path: "/v1/recommender", action: "recommender.read", id: "getRecommender", tag: "recommendations",
			summary: "The model in use.",
			status:  ok, resp: jsonBody("ModelInfo"), handler: handleModel(sv.cfg.Trainer)},

		// Campaigns: the console roles (merchandiser, marketing) and admin.
		// Every route answers 503 on a server built without campaigns.
		{method: "POST", path: "/v1/campaigns", action: "campaigns.write", id: "createCampaign", tag: "campaigns",
			summary: "Create a campaign, as a draft; a bad definition is a 400 naming every bad field.",
			body:    jsonBody("CampaignInput"), status: created, resp: jsonBody("Campaign"), errors: []int{503}, handler: handleCampaignCreate(cs)},
		{method: "GET", path: "/v1/campaigns", action: "campaigns.read", id: "listCampaigns", tag: "campaigns",
			summary: "Every campaign, in creation order.",
			status:  ok, resp: jsonBody("Campaigns"), errors: []int{503}, handler: handleCampaignList(cs)},
		{method: "GET", path: "/v1/campaigns/:id", action: "campaigns.read", id: "getCampaign", tag: "campaigns",
			summary: "A campaign.",
			status:  ok, resp: jsonBody("Campaign"), errors: []int{404, 503}, handler: handleCampaignGet(cs)},
		{method: "PUT", path: "/v1/campaigns/:id", action: "campaigns.write", id: "putCampaign", tag: "campaigns",
			summary: "Replace a campaign's definition, keeping its status; an ended campaign cannot change (409).",
			params:  []param{campaignIfMatch}, body: jsonBody("CampaignInput"),
			status: ok, resp: jsonBody("Campaign"), errors: []int{404, 409, 412, 503}, handler: handleCampaignPut(cs)},
		{method: "DELETE", path: "/v1/campaigns/:id", action: "campaigns.write", id: "deleteCampaign", tag: "campaigns",
			summary: "Delete a campaign that is not active (409 otherwise); its deliveries stay in the ledger.",
			status:  none, errors: []int{404, 409, 503}, handler: handleCampaignDelete(cs)},
		{method: "POST", path: "/v1/campaigns/:id/activate", action: "campaigns.write", id: "activateCampaign", tag: "campaigns",
			summary: "Activate a draft or paused campaign; its schedule fires from now on.",
			status:  ok, resp: jsonBody("Campaign"), errors: []int{404, 409, 503}, handler: handleCampaignTransition(cs, campaigns.StatusActive)},
		{method: "POST", path: "/v1/campaigns/:id/pause", action: "campaigns.write", id: "pauseCampaign", tag: "campaigns",
			summary: "Pause an active campaign: its deliveries wait until it is activated again or their window ends.",
			status:  ok, resp: jsonBody("Campaign"), errors: []int{404, 409, 503}, handler: handleCampaignTransition(cs, campaigns.StatusPaused)},
		{method: "POST", path: "/v1/campaigns/:id/end", action: "campaigns.write", id: "endCampaign", tag: "campaigns",
			summary: "End a campaign for good: nothing more is planned or sent.",
			status:  ok, resp: jsonBody("Campaign"), errors: []int{404, 409, 503}, handler: handleCampaignTransition(cs, campaigns.StatusEnded)},
		{method: "POST", path: "/v1/campaigns/:id/preview", action: "campaigns.read", id: "previewCampaign", tag: "campaigns",
			summary: "What a run now would do, by reason, without sending or recording anything.",
			body:    jsonBody("CampaignDate"), optional: true,
			status: ok, resp: jsonBody("Preview"), errors: []int{404, 503}, handler: handleCampaignPreview(cs)},
		{method: "POST", path: "/v1/campaigns/:id/run", action: "campaigns.write", id: "runCampaign", tag: "campaigns",
			summary: "Start one occurrence of the campaign now, for a date (default: each user's today); planning and sending follow.",
			body:    jsonBody("CampaignDate"), optional: true,
			status: accepted, resp: jsonBody("Run"), errors: []int{404, 409, 503}, handler: handleCampaignRun(cs, sv.cfg.Dispatch, sv.cfg.Log)},
		{method: "GET", path: "/v1/campaigns/:id/runs", action: "campaigns.read", id: "listCampaignRuns", tag: "campaigns",
			summary: "The campaign's runs, scheduled and manual, oldest first, with what planning found.",
			status:  ok, resp: jsonBody("Runs"), errors: []int{404, 503}, handler: handleCampaignRuns(cs)},
		{method: "GET", path: "/v1/campaigns/:id/stats", action: "campaigns.read", id: "getCampaignStats", tag: "campaigns",
			summary: "The campaign's results: deliveries by status and reason, conversions, by channel and by day.",
			status:  ok, resp: jsonBody("CampaignStats"), errors: []int{404, 503}, handler: handleCampaignStats(cs)},
		{method: "GET", path: "/v1/campaigns/:id/deliveries", action: "campaigns.read", id: "listCampaignDeliveries", tag: "campaigns",
			summary: "One page of the campaign's delivery ledger, each entry with its decision and, when sent, the consent record that allowed it.",
			params: []param{
				query("user_id", "UserID", "Only this user's deliveries (all of them, on one page)."),
				query("status", "DeliveryStatus", ""),
				query("cursor", "Cursor", "The next_cursor of the previous page; absent for the first."),
				query("limit", "DeliveryLimit", "Deliveries per page, 1 to 500; default 100."),
			},
			status: ok, resp: jsonBody("Deliveries"), errors: []int{404, 503}, handler: handleCampaignDeliveries(cs)},

		// heed worker's protocol: the scheduler's steps that need the store.
		{method: "GET", path: "/v1/worker", action: "worker.run", id: "workerInfo", tag: "worker",
			summary: "What a heed worker needs to join this heed: the namespace of its queues in Redis.",
			status:  ok, resp: jsonBody("WorkerInfo"), errors: []int{503}, handler: handleWorker(wops, sv.cfg.Namespace, "info")},
		{method: "POST", path: "/v1/worker/due", action: "worker.run", id: "workerDue", tag: "worker",
			summary: "The occurrences to plan now (each handed out once).",
			body:    jsonBody("WorkerMessage"), status: ok, resp: jsonBody("WorkerMessage"), errors: []int{503}, handler: handleWorker(wops, sv.cfg.Namespace, "due")},
		{method: "GET", path: "/v1/worker/bounds", action: "worker.run", id: "workerBounds", tag: "worker",
			summary: "The user ids that split the users into planning chunks.",
			status:  ok, resp: jsonBody("WorkerMessage"), errors: []int{503}, handler: handleWorker(wops, sv.cfg.Namespace, "bounds")},
		{method: "POST", path: "/v1/worker/dispatched", action: "worker.run", id: "workerDispatched", tag: "worker",
			summary: "Record that a run's planning tasks are queued.",
			body:    jsonBody("WorkerMessage"), status: ok, resp: jsonBody("WorkerMessage"), errors: []int{503}, handler: handleWorker(wops, sv.cfg.Namespace, "dispatched")},
		{method: "POST", path: "/v1/worker/plan", action: "worker.run", id: "workerPlan", tag: "worker",
			summary: "Plan one chunk of users for a run; answers the contacts scheduled.",
			body:    jsonBody("WorkerMessage"), status: ok, resp: jsonBody("WorkerMessage"), errors: []int{503}, handler: handleWorker(wops, sv.cfg.Namespace, "plan")},
		{method: "POST", path: "/v1/worker/prepare", action: "worker.run", id: "workerPrepare", tag: "worker",
			summary: "The send-time decision about one contact and, if it is to be sent, its message.",
			body:    jsonBody("WorkerMessage"), status: ok, resp: jsonBody("WorkerMessage"), errors: []int{503}, handler: handleWorker(wops, sv.cfg.Namespace, "prepare")},
		{method: "POST", path: "/v1/worker/finish", action: "worker.run", id: "workerFinish", tag: "worker",
			summary: "Record what the channel made of a claimed delivery.",
			body:    jsonBody("WorkerMessage"), status: ok, resp: jsonBody("WorkerMessage"), errors: []int{503}, handler: handleWorker(wops, sv.cfg.Namespace, "finish")},
		{method: "POST", path: "/v1/worker/sweep", action: "worker.run", id: "workerSweep", tag: "worker",
			summary: "Deliveries due before a time and not final: what the sweeper queues again.",
			body:    jsonBody("WorkerMessage"), status: ok, resp: jsonBody("WorkerMessage"), errors: []int{503}, handler: handleWorker(wops, sv.cfg.Namespace, "sweep")},

		// Usage log.
		{method: "GET", path: "/v1/users/:id/activity", action: "activity.read", owner: "id", id: "getActivity", tag: "activity",
			summary: "One page of the user's usage log, newest first.",
			params: []param{
				query("cursor", "Cursor", "The next_cursor of the previous page; absent for the newest."),
				query("limit", "PageLimit", "Entries per page, 1 to 200; default 50."),
			},
			status: ok, resp: jsonBody("ActivityPage"), handler: handleActivity(s)},

		// Policies and decisions.
		{method: "GET", path: "/v1/policies", action: "policies.read", id: "getPolicies", tag: "policies",
			summary: "The policy modules in force and the set's revision.",
			status:  ok, resp: jsonBody("PolicySet"), handler: handlePolicyList(s)},
		{method: "PUT", path: "/v1/policies/:name", action: "policies.write", id: "putPolicy", tag: "policies",
			summary: "Replace one policy module; the new set must compile and pass its Rego tests, else 422 and the old set stays.",
			body:    []media{{"text/plain", "RegoText"}, {"application/json", "PolicyModule"}},
			status:  ok, resp: jsonBody("PolicyRevision"), errors: []int{422}, handler: handlePolicyPut(s)},
		{method: "POST", path: "/v1/decisions", action: "decisions.query", id: "queryPolicy", tag: "policies",
			summary: "Evaluate any policy rule and log the decision.",
			body:    jsonBody("DecisionQuery"), status: ok, resp: jsonBody("DecisionResult"), handler: handleDecisionQuery(s)},
		{method: "GET", path: "/v1/decisions", action: "decisions.read", id: "listDecisions", tag: "policies",
			summary: "The newest logged decisions, newest first.",
			params:  []param{query("limit", "DecisionLimit", "Decisions, 1 to 500; default 50.")},
			status:  ok, resp: jsonBody("Decisions"), handler: handleDecisionList(s)},
		{method: "GET", path: "/v1/decisions/:id", action: "decisions.read", id: "getDecision", tag: "policies",
			summary: "A logged policy decision.",
			status:  ok, resp: jsonBody("Decision"), errors: []int{404}, handler: handleDecisionGet(s)},

		// Operations: no credentials.
		{method: "GET", path: "/healthz", id: "health", tag: "operations", summary: "The process serves.",
			status: ok, resp: jsonBody("Health"), handler: handleHealth()},
		{method: "GET", path: "/readyz", id: "ready", tag: "operations", summary: "Every dependency (Badger, Redis) answers within 2 s.",
			status: ok, resp: jsonBody("Ready"), errors: []int{503}, handler: handleReady(sv.cfg.Ready, sv.cfg.Log)},
		{method: "GET", path: "/metrics", id: "metrics", tag: "operations", summary: "Prometheus metrics.",
			status: ok, resp: []media{{"text/plain", "MetricsText"}}, handler: handleMetrics(sv.cfg.Registry)},
		{method: "GET", path: "/openapi.json", id: "openapi", tag: "operations", summary: "This document.",
			status: ok, resp: jsonBody("OpenAPIDocument"), handler: handleOpenAPI(func() []byte { return sv.doc })},

		// Unsubscribe links (RFC 8058): no credentials, the signed token is
		// the proof. A bad token is a 404 that does not say why.
		// Pages: served to everyone, showing nothing until their script has
		// a session (session.go).
		{method: "GET", path: "/me", id: "mePage", tag: "pages",
			summary: "The shopper's preference center. With ?token= (a shopper token), it signs the shopper in and redirects (303) to /me.",
			params:  []param{query("token", "ShopperToken", "A shopper token, once, from the storefront's link.")},
			status:  ok, resp: []media{{"text/html", "HTMLPage"}}, handler: handlePage("me.html", s, sv.sessions)},
		{method: "GET", path: "/console", id: "consolePage", tag: "pages", summary: "The merchandiser's console.",
			status: ok, resp: []media{{"text/html", "HTMLPage"}}, handler: handlePage("console.html", s, sv.sessions)},
		{method: "GET", path: "/assets/:name", id: "pageAsset", tag: "pages", summary: "The pages' scripts and styles.",
			status: ok, resp: []media{{"text/javascript", "AssetText"}, {"text/css", "AssetText"}}, errors: []int{404}, handler: handleAsset()},
		{method: "POST", path: "/me/session", id: "meSignIn", tag: "pages",
			summary: "Sign a shopper in to /me with a shopper token: sets the HttpOnly session cookie and the CSRF cookie.",
			body:    jsonBody("SignIn"), status: none, errors: []int{401, 403}, handler: handleSignIn(false, sv.keys, s, sv.sessions)},
		{method: "POST", path: "/console/session", id: "consoleSignIn", tag: "pages",
			summary: "Sign in to /console with a merchandiser, marketing or admin key: sets the session and CSRF cookies.",
			body:    jsonBody("SignIn"), status: none, errors: []int{401, 403}, handler: handleSignIn(true, sv.keys, s, sv.sessions)},
		{method: "POST", path: "/session/delete", id: "signOut", tag: "pages", summary: "Sign out of the pages: clears the cookies.",
			status: none, errors: []int{403}, handler: handleSignOut(sv.sessions)},
		{method: "GET", path: "/v1/session", action: "session.read", id: "getSession", tag: "pages",
			summary: "Who the caller is: the role, and the user of a shopper.",
			status:  ok, resp: jsonBody("Session"), handler: handleSessionInfo()},
		{method: "GET", path: "/unsubscribe/:token", id: "unsubscribePage", tag: "campaigns",
			summary: "A page (Chinese and English) that offers to withdraw marketing on the link's channel; it changes nothing.",
			status:  ok, resp: []media{{"text/html", "HTMLPage"}}, errors: []int{404}, handler: handleUnsubscribePage(s)},
		{method: "POST", path: "/unsubscribe/:token", id: "unsubscribe", tag: "campaigns",
			summary: "One-click unsubscribe: withdraw marketing on the link's channel, as the shopper; a confirmation page, or JSON if only JSON is accepted.",
			body:    []media{{"application/x-www-form-urlencoded", "UnsubscribeForm"}}, optional: true,
			status: ok, resp: []media{{"text/html", "HTMLPage"}, {"application/json", "UnsubscribeResult"}}, errors: []int{404}, handler: handleUnsubscribe(s)},
	}
}
