// Package eval measures recommenders offline on purchase data, with the
// protocols and reference figures of data/onlineretail/README.md (UCI
// Online Retail, CC BY 4.0: "Online Retail [Dataset]. UCI Machine Learning
// Repository. https://doi.org/10.24432/C5BW33" (Daqing Chen, London South
// Bank University)). It is independent of any recommender: a system under
// test is a Ranker; heed's strategies (package recommend) are adapted by
// TrainHeed and Heed.Strategy.
//
// Protocols. TestSplit trains on the purchases before 2011-11-09
// (TestCutoff) and tests on those after.
//
//   - P2, next month (P2Cases): one case per customer with training
//     purchases who buys again after the cutoff; the targets are the
//     products bought after it that the customer never bought before, and
//     ranking is over every catalog item the customer did not buy in
//     training (1,294 customers).
//   - P3, complete the basket (P3Cases): one case per test invoice whose
//     first line is a product sold in training and which has another
//     product; the first line is the query, the other products the targets,
//     and only the query is excluded (2,545 invoices).
//
// Metrics (Metrics, computed by Evaluate): HR@10, the share of cases with a
// target in the top 10; NDCG@10 with binary gains and the ideal DCG over
// min(targets, 10); Recall@20, the mean share of targets in the top 20; and
// catalog coverage, the share of catalog items in any top 10.
//
// Baselines (NewBaselines), trained on the same split: popularity (distinct
// customers), popularity in the customer's country, item-kNN (cosine over
// customers) and bought together (cosine over baskets). They reproduce the
// README's reference table to three decimals.
//
// Tuning never sees the test period. ValidationSplit carves the last month
// of the training part: train before 2011-10-09 (ValidationCutoff), validate
// on 2011-10-09..2011-11-09, with the same protocol shapes and a catalog of
// the items launched before 2011-11-09. Tune searches a small grid of
// recommend.Options (Factors ∈ {32, 64}, Lambda, Alpha, HalfLife,
// Iterations; see DefaultGrid) one field at a time and keeps the options
// with the best validation NDCG@10 of for_you on P2; Run then trains on the
// full training part with them and reports the test figures.
//
// Run trains heed once and evaluates for_you, region and new_arrivals on
// P2, complementary and similar on P3, and the baselines on both; a Report
// prints as a plain table (WriteTable), and Config.Progress receives a line
// per step. "heed eval" (cmd/heed) runs it over the embedded data.
package eval
