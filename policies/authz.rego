# Package heed.authz decides who may do what to whose data: role × action ×
# owner. The input is an engine.AccessRequest:
#
#	{"role": "shopper", "subject": "u1", "action": "consents.write", "owner": "u1"}
#
# subject is the user a shopper token was issued for; owner is the user whose
# data the action touches ("" when it touches no user's data).
#
# policies.Set memoizes the verdict per (role, action, subject == owner,
# owner == "", subject == ""), so rules here must depend on the user ids only
# through those comparisons.
package heed.authz

# Every action heed knows. An action outside this set is denied to everyone,
# so a typo in a route fails closed.
actions := {
	"users.read", "users.write", "users.export", "users.erase",
	"identities.read", "identities.write",
	"consents.read", "consents.write",
	"preferences.read", "preferences.write",
	"interests.read", "interests.write",
	"activity.read", "tokens.issue",
	"notices.read", "notices.write",
	"policies.read", "policies.write",
	"decisions.read", "decisions.query",
	"campaigns.read", "campaigns.write",
	"items.read", "items.write",
	"events.write", "recommendations.read",
	"recommender.read", "recommender.train",
	"worker.run", "session.read",
}

# The actions that read or change one user's data.
user_data := {
	"users.read", "users.write", "users.export", "users.erase",
	"identities.read", "identities.write",
	"consents.read", "consents.write",
	"preferences.read", "preferences.write",
	"interests.read", "interests.write",
	"activity.read", "tokens.issue",
}

# What each role may do. The storefront acts for shoppers but never changes
# policies, reads decision logs or runs campaigns; the console roles run
# campaigns and never see user data; a shopper token reaches its own data.
grants := {
	"admin": actions,
	"system": actions, # heed itself: scheduler and workers
	"storefront": user_data | {
		"notices.read",
		"items.read", "items.write",
		"events.write", "recommendations.read",
		"session.read",
	},
	"merchandiser": console,
	"marketing": console,
	"shopper": {
		"users.read", "users.export", "users.erase",
		"consents.read", "consents.write",
		"preferences.read", "preferences.write",
		"interests.read", "interests.write",
		"activity.read", "recommendations.read", "notices.read",
		"session.read",
	},
}

console := {"campaigns.read", "campaigns.write", "items.read", "recommendations.read", "recommender.read", "notices.read", "policies.read", "session.read"}

# A request may omit subject and owner (JSON omitempty); both default to "".
subject := object.get(input, "subject", "")

owner := object.get(input, "owner", "")

default allow := false

allow if {
	input.action in grants[input.role]
	reaches_owner
}

# Only a shopper token is bound to one user: it reaches that user's data, and
# what belongs to no user: notices, and who the caller is.
reaches_owner if input.role != "shopper"

reaches_owner if {
	subject != ""
	owner == subject
}

reaches_owner if {
	owner == ""
	input.action in {"notices.read", "session.read"}
}

# reasons explains a denial in plain words.
reasons contains sprintf("unknown role %q", [input.role]) if not grants[input.role]

reasons contains sprintf("unknown action %q", [input.action]) if not input.action in actions

reasons contains sprintf("role %s may not %s", [input.role, input.action]) if {
	granted := grants[input.role]
	input.action in actions
	not input.action in granted
}

reasons contains "a shopper token reaches only its own user" if {
	input.action in grants[input.role]
	not reaches_owner
}

# decision answers Authorize in one evaluation.
decision := {"allow": allow, "reasons": reasons}
