package heed.authz_test

import data.heed.authz

req(role, action, subject, owner) := {"role": role, "action": action, "subject": subject, "owner": owner}

test_admin_may_do_everything if {
	every action in authz.actions {
		authz.allow with input as req("admin", action, "", "u1")
	}
}

test_system_may_do_everything if {
	every action in authz.actions {
		authz.allow with input as req("system", action, "", "u1")
	}
}

test_unknown_action_denied_even_to_admin if {
	not authz.allow with input as req("admin", "users.delete_all", "", "u1")
	authz.reasons == {`unknown action "users.delete_all"`} with input as req("admin", "users.delete_all", "", "u1")
}

test_unknown_role_denied if {
	not authz.allow with input as req("root", "users.read", "", "u1")
	authz.reasons == {`unknown role "root"`} with input as req("root", "users.read", "", "u1")
}

test_storefront_reaches_user_data if {
	every action in authz.user_data {
		authz.allow with input as req("storefront", action, "", "u1")
	}
	authz.allow with input as req("storefront", "events.write", "", "")
	authz.allow with input as req("storefront", "items.write", "", "")
}

test_storefront_never_policies_decisions_campaigns if {
	every action in {"policies.read", "policies.write", "decisions.read", "decisions.query", "campaigns.write", "notices.write"} {
		not authz.allow with input as req("storefront", action, "", "")
	}
	authz.reasons == {"role storefront may not policies.write"} with input as req("storefront", "policies.write", "", "")
}

test_console_roles_run_campaigns_without_user_data if {
	every role in {"merchandiser", "marketing"} {
		authz.allow with input as req(role, "campaigns.write", "", "")
		authz.allow with input as req(role, "policies.read", "", "")
		not authz.allow with input as req(role, "policies.write", "", "")
		every action in authz.user_data {
			not authz.allow with input as req(role, action, "", "u1")
		}
	}
}

test_shopper_reaches_own_user if {
	authz.allow with input as req("shopper", "consents.write", "u1", "u1")
	authz.allow with input as req("shopper", "users.erase", "u1", "u1")
	authz.reasons == set() with input as req("shopper", "consents.write", "u1", "u1")
}

test_shopper_never_reaches_another_user if {
	not authz.allow with input as req("shopper", "consents.write", "u1", "u2")
	authz.reasons == {"a shopper token reaches only its own user"} with input as req("shopper", "consents.write", "u1", "u2")
	not authz.allow with input as req("shopper", "users.read", "u1", "")
	not authz.allow with input as req("shopper", "users.read", "", "")
}

test_shopper_may_not_write_profile_or_issue_tokens if {
	not authz.allow with input as req("shopper", "users.write", "u1", "u1")
	not authz.allow with input as req("shopper", "tokens.issue", "u1", "u1")
	authz.reasons == {"role shopper may not tokens.issue"} with input as req("shopper", "tokens.issue", "u1", "u1")
}

test_shopper_reads_notices if {
	authz.allow with input as req("shopper", "notices.read", "u1", "")
}

test_missing_subject_and_owner_default_to_empty if {
	authz.allow with input as {"role": "storefront", "action": "items.read"}
	not authz.allow with input as {"role": "shopper", "action": "users.read"}
}

test_decision_holds_allow_and_reasons if {
	authz.decision == {"allow": false, "reasons": {"role marketing may not users.read"}} with input as req("marketing", "users.read", "", "u1")
}

test_only_admin_trains_the_recommender if {
	authz.allow with input as req("admin", "recommender.train", "", "")
	every role in {"storefront", "merchandiser", "marketing", "shopper"} {
		not authz.allow with input as req(role, "recommender.train", "u1", "")
	}
	authz.allow with input as req("merchandiser", "recommender.read", "", "")
	not authz.allow with input as req("storefront", "recommender.read", "", "")
}

# heed worker works campaigns through the API with an admin key; no other
# role reaches the worker routes.
test_worker_admin_only if {
	authz.allow with input as req("admin", "worker.run", "", "")
	every role in {"storefront", "merchandiser", "marketing", "shopper"} {
		not authz.allow with input as req(role, "worker.run", "u1", "")
	}
}

# Every role may ask who it is; a shopper with no owner too.
test_session_read_everyone if {
	every role in {"admin", "storefront", "merchandiser", "marketing"} {
		authz.allow with input as req(role, "session.read", "", "")
	}
	authz.allow with input as req("shopper", "session.read", "u1", "")
}
