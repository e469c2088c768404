# Reference values for tests/test_stats.py: paired t-test of changes (t.test) and Holm / Benjamini-Hochberg
# adjusted P-values (p.adjust), base R only. Run from tests/reference (make reference); writes misc_*.csv.
changes <- read.csv("data/misc_changes.csv")
rows <- do.call(rbind, lapply(split(changes$change, changes$sample), function(x) {
  r <- t.test(x, mu = 0)
  data.frame(estimate = unname(r$estimate), lcl = r$conf.int[1], ucl = r$conf.int[2], statistic = unname(r$statistic),
             df = unname(r$parameter), p = r$p.value)
}))
rows$sample <- rownames(rows)
write.csv(format(rows, digits = 17), "misc_paired_t.csv", row.names = FALSE, quote = FALSE)
p <- read.csv("data/misc_pvalues.csv")$p
write.csv(data.frame(p = trimws(formatC(p, digits = 17, format = "g")), holm = trimws(formatC(p.adjust(p, "holm"), digits = 17, format = "g")),
                     bh = trimws(formatC(p.adjust(p, "BH"), digits = 17, format = "g"))), "misc_p_adjust.csv", row.names = FALSE,
          quote = FALSE)
writeLines(R.version.string, "misc_versions.txt")
