package engine

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // validate time zones the same way on every machine
)

// A UserID is heed's id for a shopper, chosen by the storefront.
type UserID string

// Validate checks that id can name a user: 1 to 128 characters, no slash,
// no control characters.
func (id UserID) Validate() error {
	if id == "" {
		return Invalid("id", "is required")
	}
	if msg := checkText(string(id), 128); msg != "" {
		return Invalid("id", "%s", msg)
	}
	if strings.ContainsAny(string(id), "/\\") || strings.TrimSpace(string(id)) != string(id) {
		return Invalid("id", "must not contain slashes or surrounding spaces")
	}
	return nil
}

// A User is a shopper's profile. OrderCount, FirstPurchaseAt and Touchpoints
// are derived from events; the rest comes from the storefront.
type User struct {
	ID              UserID    `json:"id"`
	Name            string    `json:"name,omitempty"` // personal data: never logged
	Region          string    `json:"region,omitempty"`
	TimeZone        string    `json:"time_zone,omitempty"`
	Locale          string    `json:"locale,omitempty"`
	Birthday        string    `json:"birthday,omitempty"` // MM-DD or YYYY-MM-DD
	Tier            string    `json:"tier,omitempty"`
	Minor           bool      `json:"minor"`
	GuardianConsent bool      `json:"guardian_consent"`
	OrderCount      int       `json:"order_count"`
	FirstPurchaseAt time.Time `json:"first_purchase_at,omitzero"`
	// Touchpoints are those the user's stored events came from.
	Touchpoints []Touchpoint `json:"touchpoints,omitempty"`
	Identities  []Identity   `json:"identities,omitempty"`
	CreatedAt   time.Time    `json:"created_at"`
	UpdatedAt   time.Time    `json:"updated_at"`
}

// Subject returns the facts about u that consent depends on.
func (u User) Subject() Subject { return Subject{Minor: u.Minor, GuardianConsent: u.GuardianConsent} }

// A Profile is the part of a user the storefront writes with PUT.
type Profile struct {
	Name            string `json:"name"`
	Region          string `json:"region"`
	TimeZone        string `json:"time_zone"`
	Locale          string `json:"locale"`
	Birthday        string `json:"birthday"`
	Tier            string `json:"tier"`
	Minor           bool   `json:"minor"`
	GuardianConsent bool   `json:"guardian_consent"`
}

var localeRE = regexp.MustCompile(`^[a-zA-Z]{2,3}(-[a-zA-Z0-9]{2,8})*$`)

// Validate checks a profile as of now.
func (p Profile) Validate(now time.Time) error {
	var ps problems
	if msg := checkText(p.Name, 200); msg != "" {
		ps.add("name", "%s", msg)
	}
	if msg := checkText(p.Region, 64); msg != "" {
		ps.add("region", "%s", msg)
	}
	if p.TimeZone != "" {
		if err := ValidateTimeZone(p.TimeZone); err != nil {
			ps.add("time_zone", "%v", err)
		}
	}
	if p.Locale != "" && !localeRE.MatchString(p.Locale) {
		ps.add("locale", "%q is not a language tag such as zh-CN or en", p.Locale)
	}
	if p.Birthday != "" {
		if _, err := ParseBirthday(p.Birthday, now); err != nil {
			ps.add("birthday", "%v", err)
		}
	}
	if p.Tier != "" && !valid(p.Tier, Tiers) {
		ps.add("tier", "unknown tier %q; want one of %v", p.Tier, Tiers)
	}
	if p.GuardianConsent && !p.Minor {
		ps.add("guardian_consent", "applies only to a minor")
	}
	return ps.err()
}

// ValidateTimeZone checks name against the IANA time zone database.
func ValidateTimeZone(name string) error {
	if name == "Local" || strings.HasPrefix(name, "/") || strings.Contains(name, "..") {
		return fmt.Errorf("%q is not an IANA time zone name such as Asia/Shanghai", name)
	}
	if _, err := time.LoadLocation(name); err != nil {
		return fmt.Errorf("%q is not an IANA time zone name such as Asia/Shanghai", name)
	}
	return nil
}

// A Birthday is a month and day, with an optional year.
type Birthday struct {
	Year  int // 0: unknown
	Month time.Month
	Day   int
}

// ParseBirthday parses MM-DD or YYYY-MM-DD. Feb 29 is accepted without a
// year, and with a year only if that year is a leap year. A birthday with a
// year must not be in the future (as of now) nor before 1900.
func ParseBirthday(s string, now time.Time) (Birthday, error) {
	var b Birthday
	parts := strings.Split(s, "-")
	var err error
	switch {
	case len(parts) == 2 && len(parts[0]) == 2 && len(parts[1]) == 2:
		b.Month, b.Day, err = monthDay(parts[0], parts[1])
		if err == nil && b.Day > daysIn(b.Month, 2000) { // 2000 is a leap year: Feb 29 allowed
			err = fmt.Errorf("%s has no day %d", b.Month, b.Day)
		}
	case len(parts) == 3 && len(parts[0]) == 4 && len(parts[1]) == 2 && len(parts[2]) == 2:
		b.Year, err = strconv.Atoi(parts[0])
		if err == nil {
			b.Month, b.Day, err = monthDay(parts[1], parts[2])
		}
		switch {
		case err != nil:
		case b.Year < 1900:
			err = fmt.Errorf("year %d is before 1900", b.Year)
		case b.Day > daysIn(b.Month, b.Year):
			err = fmt.Errorf("%d-%02d has no day %d", b.Year, int(b.Month), b.Day)
		case time.Date(b.Year, b.Month, b.Day, 0, 0, 0, 0, time.UTC).After(now):
			err = fmt.Errorf("is in the future")
		}
	default:
		err = fmt.Errorf("%q is neither MM-DD nor YYYY-MM-DD", s)
	}
	if err != nil {
		return Birthday{}, err
	}
	return b, nil
}

func monthDay(m, d string) (time.Month, int, error) {
	mm, err1 := strconv.Atoi(m)
	dd, err2 := strconv.Atoi(d)
	if err1 != nil || err2 != nil || mm < 1 || mm > 12 || dd < 1 {
		return 0, 0, fmt.Errorf("month %q or day %q is out of range", m, d)
	}
	return time.Month(mm), dd, nil
}

func daysIn(m time.Month, year int) int {
	return time.Date(year, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// An Identity is an external identifier (phone, email, device...) stitched
// to a user. Values are personal data: never logged.
type Identity struct {
	Type  IdentityType `json:"type"`
	Value string       `json:"value"`
}

// Validate checks an identity.
func (id Identity) Validate() error {
	var p problems
	switch {
	case id.Type == "":
		p.add("type", "is required")
	case !id.Type.Valid():
		p.add("type", "unknown identity type %q; want one of %v", id.Type, IdentityTypes)
	}
	if id.Value == "" {
		p.add("value", "is required")
	} else if msg := checkText(id.Value, 256); msg != "" {
		p.add("value", "%s", msg)
	}
	return p.err()
}
