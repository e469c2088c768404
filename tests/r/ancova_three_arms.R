# Reference values for tests/test_arms.py: ANCOVA with three arms in one model (R lm() and emmeans): LS means,
# each dose against placebo, and the linear trend contrast across doses 2, 1, 0 (weights 1, 0, -1).
# From data/ancova_hba1c_week24_dose_ranging.csv; run from tests/reference (make reference).
suppressMessages(library(emmeans))
d <- read.csv("data/ancova_hba1c_week24_dose_ranging.csv", stringsAsFactors = FALSE)
d$ARM <- factor(d$ARM, levels = c("Placebo", "Low dose", "High dose"))
fit <- lm(CHG ~ ARM + BASE, data = d)
em <- emmeans(fit, ~ ARM)
lsm <- summary(em)
vs <- summary(contrast(em, method = "trt.vs.ctrl", ref = 1, adjust = "none"), infer = c(TRUE, TRUE))
trend <- summary(contrast(em, list(trend = c(-1, 0, 1))), infer = c(TRUE, TRUE))  # Placebo, Low, High: dose - mean
num <- function(x) trimws(formatC(x, digits = 17, format = "g"))
out <- rbind(
  data.frame(group = as.character(lsm$ARM), stat = "lsmean", value = num(lsm$emmean)),
  data.frame(group = as.character(lsm$ARM), stat = "se", value = num(lsm$SE)),
  data.frame(group = as.character(lsm$ARM), stat = "lcl", value = num(lsm$lower.CL)),
  data.frame(group = as.character(lsm$ARM), stat = "ucl", value = num(lsm$upper.CL)),
  data.frame(group = c("Low dose", "High dose"), stat = "diff_estimate", value = num(vs$estimate)),
  data.frame(group = c("Low dose", "High dose"), stat = "diff_se", value = num(vs$SE)),
  data.frame(group = c("Low dose", "High dose"), stat = "diff_p", value = num(vs$p.value)),
  data.frame(group = c("Low dose", "High dose"), stat = "diff_lcl", value = num(vs$lower.CL)),
  data.frame(group = c("Low dose", "High dose"), stat = "diff_df", value = num(vs$df)),
  data.frame(group = "trend", stat = c("estimate", "se", "p", "lcl", "ucl", "df"),
             value = num(c(trend$estimate, trend$SE, trend$p.value, trend$lower.CL, trend$upper.CL, trend$df))),
  data.frame(group = "model", stat = c("rmse", "r_version", "emmeans_version"),
             value = c(num(summary(fit)$sigma), R.version.string, as.character(packageVersion("emmeans")))))
write.csv(out, "ancova_three_arms.csv", row.names = FALSE)
