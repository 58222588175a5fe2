package policies

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"

	"heed/engine"
)

// errNoDelivery is Delivery's answer under a policy set without the
// delivery entrypoint: no decision, so no message.
var errNoDelivery = errors.New("evaluate policy: the policy set does not define " + deliveryPath + "; no message may be sent")

// Delivery makes the send-time decision about one campaign message
// (data.heed.delivery.decision): whether it may go now, through which
// channel and on which consent record, and otherwise why not and whether to
// try again later. engine.DecideDelivery is the hand-written reference; the
// tests check that the shipped policy agrees with it. Under a policy set
// that does not define the entrypoint it fails closed: an error, never an
// allow. Errors as for Authorize.
func (s *Set) Delivery(ctx context.Context, q engine.DeliveryQuestion) (engine.DeliveryVerdict, error) {
	return s.delivery(ctx, s.cur.Load(), q)
}

func (s *Set) delivery(ctx context.Context, snap *snapshot, q engine.DeliveryQuestion) (engine.DeliveryVerdict, error) {
	if !snap.hasDelivery {
		return engine.DeliveryVerdict{}, errNoDelivery
	}
	d, err := s.eval(ctx, snap, &snap.delivery, s.in.delivery(q))
	if err != nil {
		return engine.DeliveryVerdict{}, err
	}
	return d.deliveryVerdict()
}

// deliveryVerdict reads a delivery decision: allow, channel, record_id,
// reason and defer_until (Unix nanoseconds, 0 for none).
func (d decision) deliveryVerdict() (engine.DeliveryVerdict, error) {
	allow, err1 := d.boolean("allow")
	channel, err2 := d.str("channel")
	id, err3 := d.str("record_id")
	reason, err4 := d.str("reason")
	until, err5 := d.int64("defer_until")
	if err := cmp.Or(err1, err2, err3, err4, err5); err != nil {
		return engine.DeliveryVerdict{}, err
	}
	v := engine.DeliveryVerdict{Allow: allow, Channel: engine.Channel(channel), RecordID: id, Reason: reason}
	if until != 0 {
		v.DeferUntil = time.Unix(0, until).UTC()
	}
	return v, nil
}

func (d decision) int64(key string) (int64, error) {
	v, err := d.get(key)
	if err != nil {
		return 0, err
	}
	n, ok := v.(ast.Number)
	if !ok {
		return 0, typeError(key, v, "an integer")
	}
	i, ok := n.Int64()
	if !ok {
		return 0, typeError(key, v, "an integer")
	}
	return i, nil
}

// MarketingCap returns the cap on marketing messages per user across every
// campaign and channel (data.heed.delivery.marketing_cap), which the
// delivery decision applies and the planner needs to foresee it. The policy
// holds it as data, so it is read once per policy set, when the set is
// built; a set that does not define it (an override written before it)
// caps nothing: the zero cap, no error.
func (s *Set) MarketingCap(context.Context) (engine.MarketingCap, error) {
	return s.cur.Load().marketingCap, nil
}

// evalMarketingCap reads snap's marketing cap: {"per_day": n, "per_week":
// n}, counts of zero or more, either left out for none. It must not depend
// on input, which it is evaluated without.
func evalMarketingCap(ctx context.Context, snap *snapshot) (engine.MarketingCap, error) {
	if len(snap.compiler.GetRulesExact(ast.MustParseRef(marketingCapPath))) == 0 {
		return engine.MarketingCap{}, nil
	}
	rs, err := rego.New(rego.Compiler(snap.compiler), rego.Store(snap.store), rego.Query(marketingCapPath),
		rego.GenerateJSON(asTerm)).Eval(ctx)
	if err != nil {
		return engine.MarketingCap{}, err
	}
	if len(rs) == 0 || len(rs[0].Expressions) == 0 {
		return engine.MarketingCap{}, nil // undefined: no cap
	}
	var obj ast.Object
	if t, _ := rs[0].Expressions[0].Value.(*ast.Term); t != nil {
		obj, _ = t.Value.(ast.Object)
	}
	if obj == nil {
		return engine.MarketingCap{}, errors.New("is not an object {\"per_day\": n, \"per_week\": n}")
	}
	count := func(key string) (int, error) {
		v := obj.Get(ast.StringTerm(key))
		if v == nil {
			return 0, nil
		}
		n, _ := v.Value.(ast.Number)
		i, ok := n.Int()
		if !ok || i < 0 {
			return 0, fmt.Errorf("%s is %v, not a count (an integer, 0 for no cap)", key, v)
		}
		return i, nil
	}
	day, err1 := count("per_day")
	week, err2 := count("per_week")
	if err := cmp.Or(err1, err2); err != nil {
		return engine.MarketingCap{}, err
	}
	return engine.MarketingCap{PerDay: day, PerWeek: week}, nil
}

// delivery builds the input of data.heed.delivery.decision, described in
// delivery.rego. The subject, notice rule, records and channel facts come
// from the caches when seen before.
func (in *inputs) delivery(q engine.DeliveryQuestion) ast.Value {
	chans := make([]*ast.Term, len(q.Channels))
	for i, c := range q.Channels {
		chans[i] = in.channelFacts(c)
	}
	return ast.NewObject(
		[2]*ast.Term{in.key("now"), nanosTerm(q.Now)},
		[2]*ast.Term{in.key("erased"), boolTerm(q.Erased)},
		[2]*ast.Term{in.key("subject"), in.subject(q.Subject)},
		[2]*ast.Term{in.key("notice"), in.notice(q.Notice)},
		[2]*ast.Term{in.key("records"), in.ledger(q.Records)},
		[2]*ast.Term{in.key("channels"), ast.ArrayTerm(chans...)},
		[2]*ast.Term{in.key("offer_type"), in.str(q.OfferType)},
		[2]*ast.Term{in.key("offer_types"), in.offerTypes(q.OfferTypes)},
		[2]*ast.Term{in.key("quiet"), boolTerm(q.Quiet)},
		[2]*ast.Term{in.key("quiet_ends"), in.ends(q.QuietEnds)},
		[2]*ast.Term{in.key("sent_today"), ast.IntNumberTerm(q.SentToday)},
		[2]*ast.Term{in.key("sent_this_week"), ast.IntNumberTerm(q.SentThisWeek)},
		[2]*ast.Term{in.key("day_ends"), nanosTerm(q.DayEnds)},
		[2]*ast.Term{in.key("week_ends"), nanosTerm(q.WeekEnds)},
		[2]*ast.Term{in.key("campaign_cap"), in.limit(q.CampaignCap)},
		[2]*ast.Term{in.key("campaign_sent"), ast.IntNumberTerm(q.CampaignSent)},
		[2]*ast.Term{in.key("campaign_cap_ends"), in.ends(q.CampaignCapEnds)},
		[2]*ast.Term{in.key("window_end"), nanosTerm(q.WindowEnd)},
	)
}

// ends returns the term of a time something ends at: the largest int64
// when it never does (t is zero).
func (in *inputs) ends(t time.Time) *ast.Term {
	if t.IsZero() {
		return in.never
	}
	return nanosTerm(t)
}

// limit returns the term of a cap: the largest int64 when there is none
// (n is 0), so that one comparison tells whether it is reached.
func (in *inputs) limit(n int) *ast.Term {
	if n <= 0 {
		return in.never
	}
	return ast.IntNumberTerm(n)
}

// channelFacts builds {"channel", "touchpoint", "enabled", "max_per_day",
// "max_per_week", "sent_today", "sent_this_week"}, from the cache when
// seen before: a user's facts change only with a send or a change of
// preferences.
func (in *inputs) channelFacts(c engine.ChannelFacts) *ast.Term {
	if t := in.channels.get(c); t != nil {
		return t
	}
	t := ast.ObjectTerm(
		[2]*ast.Term{in.key("channel"), in.str(string(c.Channel))},
		[2]*ast.Term{in.key("touchpoint"), in.str(string(c.Touchpoint))},
		[2]*ast.Term{in.key("enabled"), boolTerm(c.Enabled)},
		[2]*ast.Term{in.key("max_per_day"), in.limit(c.MaxPerDay)},
		[2]*ast.Term{in.key("max_per_week"), in.limit(c.MaxPerWeek)},
		[2]*ast.Term{in.key("sent_today"), ast.IntNumberTerm(c.SentToday)},
		[2]*ast.Term{in.key("sent_this_week"), ast.IntNumberTerm(c.SentWeek)},
	)
	in.channels.put(c, t, maxChannelTerms)
	return t
}

// offerTypes builds the array of offer types, from the cache when seen
// before.
func (in *inputs) offerTypes(types []string) *ast.Term {
	if t := in.offers.get(types); t != nil {
		return t
	}
	elems := make([]*ast.Term, len(types))
	for i, o := range types {
		elems[i] = in.str(o)
	}
	t := ast.ArrayTerm(elems...)
	in.offers.put(types, t)
	return t
}

// sampleDeliveries are the delivery questions smoke asks, so that a set
// whose decision does not answer in the shape Delivery reads is refused: a
// send, a deferral and a suppression under the shipped policy.
func sampleDeliveries() []engine.DeliveryQuestion {
	at := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	q := engine.DeliveryQuestion{
		Now: at,
		Records: []engine.ConsentRecord{{ID: "sample", Purpose: engine.PurposeMarketing, Status: engine.StatusGranted,
			RecordedAt: at.Add(-time.Hour)}},
		Channels: []engine.ChannelFacts{{Channel: engine.ChannelEmail, Enabled: true},
			{Channel: engine.ChannelPush, Touchpoint: engine.TouchpointApp, Enabled: true}},
		OfferType: "discount", OfferTypes: []string{"discount"},
		DayEnds: at.Add(12 * time.Hour), WeekEnds: at.Add(4 * 24 * time.Hour),
		WindowEnd: at.Add(48 * time.Hour),
	}
	quiet := q
	quiet.Quiet, quiet.QuietEnds = true, at.Add(8*time.Hour)
	none := q
	none.Records = nil
	return []engine.DeliveryQuestion{q, quiet, none}
}

// maxChannelTerms bounds the channel facts' terms kept: a few per active
// user and channel.
const maxChannelTerms = 4096
