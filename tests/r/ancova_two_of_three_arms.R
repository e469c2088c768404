# Reference values for tests/test_arms.py: ANCOVA of the week-20 glucose change on the two compared arms only
# (R lm() and emmeans), from data/ancova_gluc_week20_three_arms.csv, all three arms of the delivery.
# Run from tests/reference (make reference); writes ancova_two_of_three_arms.csv (name, value).
suppressMessages(library(emmeans))
d <- read.csv("data/ancova_gluc_week20_three_arms.csv", stringsAsFactors = FALSE)
d <- d[d$ARM %in% c("UC-MSC", "Placebo") & d$FASFL == "Y", ]
d$ARM <- factor(d$ARM, levels = c("Placebo", "UC-MSC"))
fit <- lm(CHG ~ ARM + BASE, data = d)
co <- summary(fit)$coefficients["ARMUC-MSC", ]
ci <- confint(fit)["ARMUC-MSC", ]
z <- qnorm(0.975)
em <- summary(emmeans(fit, ~ ARM))
em_z <- summary(emmeans(fit, ~ ARM), infer = c(TRUE, FALSE), df = Inf)
values <- c(
  n_placebo = sum(d$ARM == "Placebo"), n_ucmsc = sum(d$ARM == "UC-MSC"), df = fit$df.residual,
  estimate = co[["Estimate"]], se = co[["Std. Error"]], t = co[["t value"]], p = co[["Pr(>|t|)"]],
  lcl_t = ci[[1]], ucl_t = ci[[2]], lcl_normal = co[["Estimate"]] - z * co[["Std. Error"]],
  ucl_normal = co[["Estimate"]] + z * co[["Std. Error"]], rmse = summary(fit)$sigma,
  lsmean_placebo = em$emmean[1], lsmean_ucmsc = em$emmean[2], lsmean_se_placebo = em$SE[1], lsmean_se_ucmsc = em$SE[2],
  lsmean_lcl_t_placebo = em$lower.CL[1], lsmean_lcl_t_ucmsc = em$lower.CL[2],
  lsmean_ucl_t_placebo = em$upper.CL[1], lsmean_ucl_t_ucmsc = em$upper.CL[2],
  lsmean_lcl_normal_placebo = em_z$asymp.LCL[1], lsmean_lcl_normal_ucmsc = em_z$asymp.LCL[2],
  lsmean_ucl_normal_placebo = em_z$asymp.UCL[1], lsmean_ucl_normal_ucmsc = em_z$asymp.UCL[2])
out <- data.frame(name = names(values), value = trimws(formatC(unname(values), digits = 17, format = "g")))
write.csv(rbind(out, data.frame(name = c("r_version", "emmeans_version"),
                                value = c(R.version.string, as.character(packageVersion("emmeans"))))),
          "ancova_two_of_three_arms.csv", row.names = FALSE)
