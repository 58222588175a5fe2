package api

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"heed/campaigns"
	"heed/engine"
)

// TestSchemasMatchTypes checks that each schema in schemas.json lists
// exactly the JSON members of the Go type the server decodes or encodes.
func TestSchemasMatchTypes(t *testing.T) {
	var schemas map[string]struct {
		Properties map[string]any `json:"properties"`
	}
	if err := json.Unmarshal(schemasJSON, &schemas); err != nil {
		t.Fatal(err)
	}
	for name, v := range map[string]any{
		// Request bodies.
		"Profile":            engine.Profile{},
		"IdentityInput":      identityInput{},
		"ConsentBatch":       consentBatch{},
		"ConsentRecordInput": consentInput{},
		"NoticeInput":        noticeInput{},
		"Preferences":        engine.Preferences{},
		"PolicyModule":       policyModule{},
		"DecisionQuery":      decisionQuery{},
		"Item":               engine.Item{},
		"ItemBatch":          itemBatch{},
		"LineItem":           engine.LineItem{},
		"Event":              engine.Event{},
		"EventBatch":         eventBatch{},
		"SignIn":             signIn{},
		"CampaignInput":      campaigns.Campaign{},
		"Offer":              campaigns.Offer{},
		"Audience":           campaigns.Audience{},
		"Schedule":           campaigns.Schedule{},
		"Message":            campaigns.Message{},
		"MessageTemplate":    campaigns.Template{},
		"CampaignCap":        engine.CampaignCap{},
		"CampaignDate":       campaignDate{},
		// Responses.
		"User":              engine.User{},
		"Identity":          engine.Identity{},
		"Token":             tokenResponse{},
		"Export":            engine.Export{},
		"ConsentRecord":     engine.ConsentRecord{},
		"ConsentRecords":    consentRecords{},
		"EffectiveConsent":  engine.EffectiveConsent{},
		"ConsentCheck":      consentCheck{},
		"Notice":            engine.Notice{},
		"ChannelPref":       engine.ChannelPref{},
		"QuietHours":        engine.QuietHours{},
		"InterestTag":       engine.InterestTag{},
		"Interests":         engine.Interests{},
		"ActivityEntry":     engine.ActivityEntry{},
		"ActivityPage":      activityPage{},
		"PolicySet":         policySet{},
		"Decision":          engine.Decision{},
		"Problem":           problem{},
		"Upserted":          upserted{},
		"EventResult":       engine.EventResult{},
		"DroppedEvent":      engine.DroppedEvent{},
		"ImportResult":      engine.ImportResult{},
		"Recommended":       engine.Recommended{},
		"Recommendations":   engine.RecResult{},
		"ModelInfo":         ModelInfo{},
		"Campaign":          campaigns.Campaign{},
		"Campaigns":         campaignList{},
		"Run":               campaigns.Run{},
		"Runs":              runList{},
		"Preview":           campaigns.Preview{},
		"PreviewContact":    campaigns.PreviewContact{},
		"CampaignStats":     campaigns.Stats{},
		"ChannelStats":      campaigns.ChannelStats{},
		"DayStats":          campaigns.DayStats{},
		"Delivery":          engine.Delivery{},
		"Deliveries":        deliveryPage{},
		"UnsubscribeResult": unsubscribeResult{},
	} {
		s, ok := schemas[name]
		if !ok {
			t.Errorf("schemas.json has no %s", name)
			continue
		}
		var documented []string
		for p := range s.Properties {
			documented = append(documented, p)
		}
		slices.Sort(documented)
		if diff := cmp.Diff(jsonFields(reflect.TypeOf(v)), documented); diff != "" {
			t.Errorf("%s: schema properties differ from %T's JSON fields (-type +schema):\n%s", name, v, diff)
		}
	}
}

// jsonFields lists the JSON member names of struct type t, sorted,
// flattening embedded structs as encoding/json does.
func jsonFields(t reflect.Type) []string {
	var names []string
	for f := range t.Fields() {
		tag := f.Tag.Get("json")
		name, _, _ := strings.Cut(tag, ",")
		switch {
		case name == "-" || !f.IsExported() && !f.Anonymous:
		case f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct:
			names = append(names, jsonFields(f.Type)...)
		case name == "":
			names = append(names, f.Name)
		default:
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}
