# Reference values for tests/test_hodges_lehmann.py: Hodges-Lehmann estimates and CIs of wilcox.test(conf.int = TRUE),
# base R only (R >= 4.0 for tol.root). Run from tests/reference (make reference); reads
# data/hodges_lehmann_*.csv (tests/r/make_data_hodges_lehmann.py) and writes hodges_lehmann_two_sample.csv,
# hodges_lehmann_one_sample.csv and hodges_lehmann_versions.csv.
#   default: wilcox.test(x, y, conf.int = TRUE) / wilcox.test(x, conf.int = TRUE) as a user calls it (exact = NULL,
#            correct = TRUE, tol.root = 1e-4: uniroot stops within 1e-4 of a limit in the normal-approximation case);
#   tight:   the same with tol.root = 1e-12 (the limits to 1e-12);
#   median_walsh / median_diffs: the definition, median of the pairwise differences (Walsh averages of the non-zero
#            values), computed here directly.
num <- function(x) ifelse(is.na(x) & !is.nan(x), "NA", sprintf("%.17g", x))
write_numbers <- function(frame, file) {
  for (col in names(frame)) if (is.numeric(frame[[col]])) frame[[col]] <- num(frame[[col]])
  write.csv(frame, file, row.names = FALSE, quote = FALSE)
}
row <- function(sample, r, tight, definition) {
  data.frame(sample = sample, estimate = unname(r$estimate), lcl = r$conf.int[1], ucl = r$conf.int[2],
             conf_level = attr(r$conf.int, "conf.level"), exact = as.integer(grepl("exact", r$method)),
             estimate_tight = unname(tight$estimate), lcl_tight = tight$conf.int[1], ucl_tight = tight$conf.int[2],
             definition = definition, p = r$p.value)
}

d <- read.csv("data/hodges_lehmann_two_sample.csv")
two <- do.call(rbind, lapply(unique(d$sample), function(s) {
  x <- d$value[d$sample == s & d$group == "x"]
  y <- d$value[d$sample == s & d$group == "y"]
  r <- suppressWarnings(wilcox.test(x, y, conf.int = TRUE))
  tight <- suppressWarnings(wilcox.test(x, y, conf.int = TRUE, tol.root = 1e-12))
  row(s, r, tight, median(outer(x, y, "-")))
}))
names(two)[names(two) == "definition"] <- "median_diffs"

d <- read.csv("data/hodges_lehmann_one_sample.csv")
one <- do.call(rbind, lapply(unique(d$sample), function(s) {
  x <- d$value[d$sample == s]
  r <- suppressWarnings(wilcox.test(x, conf.int = TRUE))
  tight <- suppressWarnings(wilcox.test(x, conf.int = TRUE, tol.root = 1e-12))
  nz <- x[x != 0]
  walsh <- outer(nz, nz, "+") / 2
  row(s, r, tight, median(walsh[!lower.tri(walsh)]))
}))
names(one)[names(one) == "definition"] <- "median_walsh"

write_numbers(two, "hodges_lehmann_two_sample.csv")
write_numbers(one, "hodges_lehmann_one_sample.csv")
write.csv(data.frame(name = "r_version", value = R.version.string), "hodges_lehmann_versions.csv", row.names = FALSE)
