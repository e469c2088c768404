# Reference values for tests/test_arms.py: ANCOVA of the week-20 glucose change on the two compared arms only,
# from gluc_week20_three_arms.csv (all three arms of the delivery). Run: Rscript ancova_two_of_three_arms.R
# R 4.2 (Debian r-base-core), emmeans from r-cran-emmeans; writes ancova_two_of_three_arms.json.
library(emmeans)
d <- read.csv("gluc_week20_three_arms.csv", stringsAsFactors = FALSE)
d <- d[d$ARM %in% c("UC-MSC", "Placebo"), ]
d$ARM <- factor(d$ARM, levels = c("Placebo", "UC-MSC"))
fit <- lm(CHG ~ ARM + BASE, data = d)
co <- summary(fit)$coefficients["ARMUC-MSC", ]
df <- fit$df.residual
ci_t <- confint(fit)["ARMUC-MSC", ]
z <- qnorm(0.975)
em <- summary(emmeans(fit, ~ ARM), level = 0.95)
em_z <- summary(emmeans(fit, ~ ARM), level = 0.95, infer = c(TRUE, FALSE), df = Inf)
out <- list(
  n = as.list(table(d$ARM)), df = df, estimate = unname(co["Estimate"]), se = unname(co["Std. Error"]),
  t = unname(co["t value"]), p = unname(co["Pr(>|t|)"]), lcl_t = unname(ci_t[1]), ucl_t = unname(ci_t[2]),
  lcl_normal = unname(co["Estimate"] - z * co["Std. Error"]), ucl_normal = unname(co["Estimate"] + z * co["Std. Error"]),
  rmse = summary(fit)$sigma,
  lsmean = setNames(as.list(em$emmean), as.character(em$ARM)), lsmean_se = setNames(as.list(em$SE), as.character(em$ARM)),
  lsmean_lcl = setNames(as.list(em$lower.CL), as.character(em$ARM)), lsmean_ucl = setNames(as.list(em$upper.CL), as.character(em$ARM)),
  lsmean_lcl_normal = setNames(as.list(em_z$asymp.LCL), as.character(em_z$ARM)),
  lsmean_ucl_normal = setNames(as.list(em_z$asymp.UCL), as.character(em_z$ARM)),
  r_version = R.version.string, emmeans_version = as.character(packageVersion("emmeans")))
writeLines(jsonlite_free <- (function(x) {
  # minimal JSON writer (no jsonlite on this machine): numbers at 17 significant digits
  enc <- function(v) {
    if (is.list(v)) {
      if (!is.null(names(v))) return(paste0("{", paste0('"', names(v), '": ', sapply(v, enc), collapse = ", "), "}"))
      return(paste0("[", paste(sapply(v, enc), collapse = ", "), "]"))
    }
    if (is.character(v)) return(paste0('"', v, '"'))
    formatC(v, digits = 17, format = "g")
  }
  enc(x)
})(out), "ancova_two_of_three_arms.json")
