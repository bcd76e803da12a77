-- tierwise scoring for pyspark: spec <spec-hash>, as of 2026-11-01, inputs accounts, activities
SELECT
  `t13`.`account_id`,
  `t13`.`name` AS `account_name`,
  `t13`.`owner_id`,
  `t13`.`fit_score`,
  `t13`.`signal_score`,
  `t13`.`engagement_score`,
  `t13`.`score`,
  `t13`.`tier`,
  CASE
    WHEN CASE
      WHEN COALESCE(
        COALESCE(`t13`.`employees` >= 1000, FALSE)
        AND COALESCE(
          LOWER(TRIM(' \t\n\r\013\014' FROM `t13`.`industry`)) IN ('software', 'finance'),
          FALSE
        ),
        FALSE
      )
      THEN 0
      ELSE 1
    END = 0
    THEN 'Enterprise'
    WHEN CASE
      WHEN COALESCE(
        COALESCE(`t13`.`employees` >= 1000, FALSE)
        AND COALESCE(
          LOWER(TRIM(' \t\n\r\013\014' FROM `t13`.`industry`)) IN ('software', 'finance'),
          FALSE
        ),
        FALSE
      )
      THEN 0
      ELSE 1
    END = 1
    THEN 'Standard'
    ELSE 'Standard'
  END AS `segment`,
  CASE
    WHEN CASE
      WHEN COALESCE(
        COALESCE(`t13`.`employees` >= 1000, FALSE)
        AND COALESCE(
          LOWER(TRIM(' \t\n\r\013\014' FROM `t13`.`industry`)) IN ('software', 'finance'),
          FALSE
        ),
        FALSE
      )
      THEN 0
      ELSE 1
    END = 0
    THEN 'P1'
    WHEN CASE
      WHEN COALESCE(
        COALESCE(`t13`.`employees` >= 1000, FALSE)
        AND COALESCE(
          LOWER(TRIM(' \t\n\r\013\014' FROM `t13`.`industry`)) IN ('software', 'finance'),
          FALSE
        ),
        FALSE
      )
      THEN 0
      ELSE 1
    END = 1
    THEN 'P2'
    ELSE 'P2'
  END AS `priority`,
  '' AS `motion`,
  '' AS `touches_per_month`,
  CASE
    WHEN ELEMENT_AT(`t13`.`_top`, 0 + 1).`i` = 0
    THEN CONCAT(
      CONCAT(`t13`.`_fitlabel__size`, ': +'),
      CAST(CAST(ROUND(`t13`.`_c0`, 1) AS DOUBLE) AS STRING)
    )
    WHEN ELEMENT_AT(`t13`.`_top`, 0 + 1).`i` = 1
    THEN CONCAT(
      CONCAT(`t13`.`_fitlabel__industry`, ': +'),
      CAST(CAST(ROUND(`t13`.`_c1`, 1) AS DOUBLE) AS STRING)
    )
    WHEN ELEMENT_AT(`t13`.`_top`, 0 + 1).`i` = 2
    THEN CONCAT(
      CONCAT(`t13`.`_fitlabel__stack`, ': +'),
      CAST(CAST(ROUND(`t13`.`_c2`, 1) AS DOUBLE) AS STRING)
    )
    WHEN ELEMENT_AT(`t13`.`_top`, 0 + 1).`i` = 3
    THEN CONCAT(
      CONCAT(`t13`.`_fitlabel__geo`, ': +'),
      CAST(CAST(ROUND(`t13`.`_c3`, 1) AS DOUBLE) AS STRING)
    )
    WHEN ELEMENT_AT(`t13`.`_top`, 0 + 1).`i` = 4
    THEN CONCAT(
      CONCAT(`t13`.`_fitlabel__complex`, ': +'),
      CAST(CAST(ROUND(`t13`.`_c4`, 1) AS DOUBLE) AS STRING)
    )
    WHEN ELEMENT_AT(`t13`.`_top`, 0 + 1).`i` = 5
    THEN CONCAT(
      CONCAT(
        CONCAT(
          'funding_round',
          IF(
            `t13`.`_n__funding_round` = 1,
            CONCAT(
              ' ',
              CASE
                WHEN `t13`.`_a__funding_round` = 0
                THEN 'today'
                WHEN `t13`.`_a__funding_round` = 1
                THEN '1 day ago'
                ELSE CONCAT(CAST(`t13`.`_a__funding_round` AS STRING), ' days ago')
              END
            ),
            CONCAT(
              CONCAT(CONCAT(' x', CAST(`t13`.`_n__funding_round` AS STRING)), ', latest '),
              CASE
                WHEN `t13`.`_a__funding_round` = 0
                THEN 'today'
                WHEN `t13`.`_a__funding_round` = 1
                THEN '1 day ago'
                ELSE CONCAT(CAST(`t13`.`_a__funding_round` AS STRING), ' days ago')
              END
            )
          )
        ),
        ': +'
      ),
      CAST(CAST(ROUND(`t13`.`_c5`, 1) AS DOUBLE) AS STRING)
    )
    WHEN ELEMENT_AT(`t13`.`_top`, 0 + 1).`i` = 6
    THEN CONCAT(
      CONCAT(
        CONCAT(
          'demo_request',
          IF(
            `t13`.`_n__demo_request` = 1,
            CONCAT(
              ' ',
              CASE
                WHEN `t13`.`_a__demo_request` = 0
                THEN 'today'
                WHEN `t13`.`_a__demo_request` = 1
                THEN '1 day ago'
                ELSE CONCAT(CAST(`t13`.`_a__demo_request` AS STRING), ' days ago')
              END
            ),
            CONCAT(
              CONCAT(CONCAT(' x', CAST(`t13`.`_n__demo_request` AS STRING)), ', latest '),
              CASE
                WHEN `t13`.`_a__demo_request` = 0
                THEN 'today'
                WHEN `t13`.`_a__demo_request` = 1
                THEN '1 day ago'
                ELSE CONCAT(CAST(`t13`.`_a__demo_request` AS STRING), ' days ago')
              END
            )
          )
        ),
        ': +'
      ),
      CAST(CAST(ROUND(`t13`.`_c6`, 1) AS DOUBLE) AS STRING)
    )
    WHEN ELEMENT_AT(`t13`.`_top`, 0 + 1).`i` = 7
    THEN CONCAT(
      CONCAT(
        CONCAT(
          'unsubscribe',
          IF(
            `t13`.`_n__unsubscribe` = 1,
            CONCAT(
              ' ',
              CASE
                WHEN `t13`.`_a__unsubscribe` = 0
                THEN 'today'
                WHEN `t13`.`_a__unsubscribe` = 1
                THEN '1 day ago'
                ELSE CONCAT(CAST(`t13`.`_a__unsubscribe` AS STRING), ' days ago')
              END
            ),
            CONCAT(
              CONCAT(CONCAT(' x', CAST(`t13`.`_n__unsubscribe` AS STRING)), ', latest '),
              CASE
                WHEN `t13`.`_a__unsubscribe` = 0
                THEN 'today'
                WHEN `t13`.`_a__unsubscribe` = 1
                THEN '1 day ago'
                ELSE CONCAT(CAST(`t13`.`_a__unsubscribe` AS STRING), ' days ago')
              END
            )
          )
        ),
        ': +'
      ),
      CAST(CAST(ROUND(`t13`.`_c7`, 1) AS DOUBLE) AS STRING)
    )
    ELSE CAST(NULL AS STRING)
  END AS `reason_1`,
  CASE
    WHEN ELEMENT_AT(`t13`.`_top`, 1 + 1).`i` = 0
    THEN CONCAT(
      CONCAT(`t13`.`_fitlabel__size`, ': +'),
      CAST(CAST(ROUND(`t13`.`_c0`, 1) AS DOUBLE) AS STRING)
    )
    WHEN ELEMENT_AT(`t13`.`_top`, 1 + 1).`i` = 1
    THEN CONCAT(
      CONCAT(`t13`.`_fitlabel__industry`, ': +'),
      CAST(CAST(ROUND(`t13`.`_c1`, 1) AS DOUBLE) AS STRING)
    )
    WHEN ELEMENT_AT(`t13`.`_top`, 1 + 1).`i` = 2
    THEN CONCAT(
      CONCAT(`t13`.`_fitlabel__stack`, ': +'),
      CAST(CAST(ROUND(`t13`.`_c2`, 1) AS DOUBLE) AS STRING)
    )
    WHEN ELEMENT_AT(`t13`.`_top`, 1 + 1).`i` = 3
    THEN CONCAT(
      CONCAT(`t13`.`_fitlabel__geo`, ': +'),
      CAST(CAST(ROUND(`t13`.`_c3`, 1) AS DOUBLE) AS STRING)
    )
    WHEN ELEMENT_AT(`t13`.`_top`, 1 + 1).`i` = 4
    THEN CONCAT(
      CONCAT(`t13`.`_fitlabel__complex`, ': +'),
      CAST(CAST(ROUND(`t13`.`_c4`, 1) AS DOUBLE) AS STRING)
    )
    WHEN ELEMENT_AT(`t13`.`_top`, 1 + 1).`i` = 5
    THEN CONCAT(
      CONCAT(
        CONCAT(
          'funding_round',
          IF(
            `t13`.`_n__funding_round` = 1,
            CONCAT(
              ' ',
              CASE
                WHEN `t13`.`_a__funding_round` = 0
                THEN 'today'
                WHEN `t13`.`_a__funding_round` = 1
                THEN '1 day ago'
                ELSE CONCAT(CAST(`t13`.`_a__funding_round` AS STRING), ' days ago')
              END
            ),
            CONCAT(
              CONCAT(CONCAT(' x', CAST(`t13`.`_n__funding_round` AS STRING)), ', latest '),
              CASE
                WHEN `t13`.`_a__funding_round` = 0
                THEN 'today'
                WHEN `t13`.`_a__funding_round` = 1
                THEN '1 day ago'
                ELSE CONCAT(CAST(`t13`.`_a__funding_round` AS STRING), ' days ago')
              END
            )
          )
        ),
        ': +'
      ),
      CAST(CAST(ROUND(`t13`.`_c5`, 1) AS DOUBLE) AS STRING)
    )
    WHEN ELEMENT_AT(`t13`.`_top`, 1 + 1).`i` = 6
    THEN CONCAT(
      CONCAT(
        CONCAT(
          'demo_request',
          IF(
            `t13`.`_n__demo_request` = 1,
            CONCAT(
              ' ',
              CASE
                WHEN `t13`.`_a__demo_request` = 0
                THEN 'today'
                WHEN `t13`.`_a__demo_request` = 1
                THEN '1 day ago'
                ELSE CONCAT(CAST(`t13`.`_a__demo_request` AS STRING), ' days ago')
              END
            ),
            CONCAT(
              CONCAT(CONCAT(' x', CAST(`t13`.`_n__demo_request` AS STRING)), ', latest '),
              CASE
                WHEN `t13`.`_a__demo_request` = 0
                THEN 'today'
                WHEN `t13`.`_a__demo_request` = 1
                THEN '1 day ago'
                ELSE CONCAT(CAST(`t13`.`_a__demo_request` AS STRING), ' days ago')
              END
            )
          )
        ),
        ': +'
      ),
      CAST(CAST(ROUND(`t13`.`_c6`, 1) AS DOUBLE) AS STRING)
    )
    WHEN ELEMENT_AT(`t13`.`_top`, 1 + 1).`i` = 7
    THEN CONCAT(
      CONCAT(
        CONCAT(
          'unsubscribe',
          IF(
            `t13`.`_n__unsubscribe` = 1,
            CONCAT(
              ' ',
              CASE
                WHEN `t13`.`_a__unsubscribe` = 0
                THEN 'today'
                WHEN `t13`.`_a__unsubscribe` = 1
                THEN '1 day ago'
                ELSE CONCAT(CAST(`t13`.`_a__unsubscribe` AS STRING), ' days ago')
              END
            ),
            CONCAT(
              CONCAT(CONCAT(' x', CAST(`t13`.`_n__unsubscribe` AS STRING)), ', latest '),
              CASE
                WHEN `t13`.`_a__unsubscribe` = 0
                THEN 'today'
                WHEN `t13`.`_a__unsubscribe` = 1
                THEN '1 day ago'
                ELSE CONCAT(CAST(`t13`.`_a__unsubscribe` AS STRING), ' days ago')
              END
            )
          )
        ),
        ': +'
      ),
      CAST(CAST(ROUND(`t13`.`_c7`, 1) AS DOUBLE) AS STRING)
    )
    ELSE CAST(NULL AS STRING)
  END AS `reason_2`,
  CASE
    WHEN ELEMENT_AT(`t13`.`_top`, 2 + 1).`i` = 0
    THEN CONCAT(
      CONCAT(`t13`.`_fitlabel__size`, ': +'),
      CAST(CAST(ROUND(`t13`.`_c0`, 1) AS DOUBLE) AS STRING)
    )
    WHEN ELEMENT_AT(`t13`.`_top`, 2 + 1).`i` = 1
    THEN CONCAT(
      CONCAT(`t13`.`_fitlabel__industry`, ': +'),
      CAST(CAST(ROUND(`t13`.`_c1`, 1) AS DOUBLE) AS STRING)
    )
    WHEN ELEMENT_AT(`t13`.`_top`, 2 + 1).`i` = 2
    THEN CONCAT(
      CONCAT(`t13`.`_fitlabel__stack`, ': +'),
      CAST(CAST(ROUND(`t13`.`_c2`, 1) AS DOUBLE) AS STRING)
    )
    WHEN ELEMENT_AT(`t13`.`_top`, 2 + 1).`i` = 3
    THEN CONCAT(
      CONCAT(`t13`.`_fitlabel__geo`, ': +'),
      CAST(CAST(ROUND(`t13`.`_c3`, 1) AS DOUBLE) AS STRING)
    )
    WHEN ELEMENT_AT(`t13`.`_top`, 2 + 1).`i` = 4
    THEN CONCAT(
      CONCAT(`t13`.`_fitlabel__complex`, ': +'),
      CAST(CAST(ROUND(`t13`.`_c4`, 1) AS DOUBLE) AS STRING)
    )
    WHEN ELEMENT_AT(`t13`.`_top`, 2 + 1).`i` = 5
    THEN CONCAT(
      CONCAT(
        CONCAT(
          'funding_round',
          IF(
            `t13`.`_n__funding_round` = 1,
            CONCAT(
              ' ',
              CASE
                WHEN `t13`.`_a__funding_round` = 0
                THEN 'today'
                WHEN `t13`.`_a__funding_round` = 1
                THEN '1 day ago'
                ELSE CONCAT(CAST(`t13`.`_a__funding_round` AS STRING), ' days ago')
              END
            ),
            CONCAT(
              CONCAT(CONCAT(' x', CAST(`t13`.`_n__funding_round` AS STRING)), ', latest '),
              CASE
                WHEN `t13`.`_a__funding_round` = 0
                THEN 'today'
                WHEN `t13`.`_a__funding_round` = 1
                THEN '1 day ago'
                ELSE CONCAT(CAST(`t13`.`_a__funding_round` AS STRING), ' days ago')
              END
            )
          )
        ),
        ': +'
      ),
      CAST(CAST(ROUND(`t13`.`_c5`, 1) AS DOUBLE) AS STRING)
    )
    WHEN ELEMENT_AT(`t13`.`_top`, 2 + 1).`i` = 6
    THEN CONCAT(
      CONCAT(
        CONCAT(
          'demo_request',
          IF(
            `t13`.`_n__demo_request` = 1,
            CONCAT(
              ' ',
              CASE
                WHEN `t13`.`_a__demo_request` = 0
                THEN 'today'
                WHEN `t13`.`_a__demo_request` = 1
                THEN '1 day ago'
                ELSE CONCAT(CAST(`t13`.`_a__demo_request` AS STRING), ' days ago')
              END
            ),
            CONCAT(
              CONCAT(CONCAT(' x', CAST(`t13`.`_n__demo_request` AS STRING)), ', latest '),
              CASE
                WHEN `t13`.`_a__demo_request` = 0
                THEN 'today'
                WHEN `t13`.`_a__demo_request` = 1
                THEN '1 day ago'
                ELSE CONCAT(CAST(`t13`.`_a__demo_request` AS STRING), ' days ago')
              END
            )
          )
        ),
        ': +'
      ),
      CAST(CAST(ROUND(`t13`.`_c6`, 1) AS DOUBLE) AS STRING)
    )
    WHEN ELEMENT_AT(`t13`.`_top`, 2 + 1).`i` = 7
    THEN CONCAT(
      CONCAT(
        CONCAT(
          'unsubscribe',
          IF(
            `t13`.`_n__unsubscribe` = 1,
            CONCAT(
              ' ',
              CASE
                WHEN `t13`.`_a__unsubscribe` = 0
                THEN 'today'
                WHEN `t13`.`_a__unsubscribe` = 1
                THEN '1 day ago'
                ELSE CONCAT(CAST(`t13`.`_a__unsubscribe` AS STRING), ' days ago')
              END
            ),
            CONCAT(
              CONCAT(CONCAT(' x', CAST(`t13`.`_n__unsubscribe` AS STRING)), ', latest '),
              CASE
                WHEN `t13`.`_a__unsubscribe` = 0
                THEN 'today'
                WHEN `t13`.`_a__unsubscribe` = 1
                THEN '1 day ago'
                ELSE CONCAT(CAST(`t13`.`_a__unsubscribe` AS STRING), ' days ago')
              END
            )
          )
        ),
        ': +'
      ),
      CAST(CAST(ROUND(`t13`.`_c7`, 1) AS DOUBLE) AS STRING)
    )
    ELSE CAST(NULL AS STRING)
  END AS `reason_3`,
  '<spec-hash>' AS `spec_hash`,
  MAKE_DATE(2026, 11, 1) AS `as_of`
FROM (
  SELECT
    `t12`.`account_id`,
    `t12`.`name`,
    `t12`.`domain`,
    `t12`.`website`,
    `t12`.`industry`,
    `t12`.`employees`,
    `t12`.`annual_revenue`,
    `t12`.`revenue_growth`,
    `t12`.`country`,
    `t12`.`region`,
    `t12`.`state`,
    `t12`.`city`,
    `t12`.`business_units`,
    `t12`.`tech_stack`,
    `t12`.`funding_stage`,
    `t12`.`owner_id`,
    `t12`.`parent_account_id`,
    `t12`.`is_customer`,
    `t12`.`created_at`,
    `t12`.`updated_at`,
    `t12`.`_fit__size`,
    `t12`.`_fitlabel__size`,
    `t12`.`_fit__industry`,
    `t12`.`_fitlabel__industry`,
    `t12`.`_fit__stack`,
    `t12`.`_fitlabel__stack`,
    `t12`.`_fit__geo`,
    `t12`.`_fitlabel__geo`,
    `t12`.`_fit__complex`,
    `t12`.`_fitlabel__complex`,
    `t12`.`_n__funding_round`,
    `t12`.`_p__funding_round`,
    `t12`.`_a__funding_round`,
    `t12`.`_n__demo_request`,
    `t12`.`_p__demo_request`,
    `t12`.`_a__demo_request`,
    `t12`.`_n__unsubscribe`,
    `t12`.`_p__unsubscribe`,
    `t12`.`_a__unsubscribe`,
    `t12`.`fit_score`,
    `t12`.`signal_score`,
    `t12`.`engagement_score`,
    `t12`.`score`,
    `t12`.`tier`,
    `t12`.`_c0`,
    `t12`.`_c1`,
    `t12`.`_c2`,
    `t12`.`_c3`,
    `t12`.`_c4`,
    `t12`.`_c5`,
    `t12`.`_c6`,
    `t12`.`_c7`,
    SLICE(
      ARRAY_SORT(
        FILTER(
          ARRAY(
            STRUCT(-(
              CAST(ROUND(`t12`.`_c0`, 6) AS DOUBLE)
            ) AS `k`, 0 AS `i`),
            STRUCT(-(
              CAST(ROUND(`t12`.`_c1`, 6) AS DOUBLE)
            ) AS `k`, 1 AS `i`),
            STRUCT(-(
              CAST(ROUND(`t12`.`_c2`, 6) AS DOUBLE)
            ) AS `k`, 2 AS `i`),
            STRUCT(-(
              CAST(ROUND(`t12`.`_c3`, 6) AS DOUBLE)
            ) AS `k`, 3 AS `i`),
            STRUCT(-(
              CAST(ROUND(`t12`.`_c4`, 6) AS DOUBLE)
            ) AS `k`, 4 AS `i`),
            STRUCT(-(
              CAST(ROUND(`t12`.`_c5`, 6) AS DOUBLE)
            ) AS `k`, 5 AS `i`),
            STRUCT(-(
              CAST(ROUND(`t12`.`_c6`, 6) AS DOUBLE)
            ) AS `k`, 6 AS `i`),
            STRUCT(-(
              CAST(ROUND(`t12`.`_c7`, 6) AS DOUBLE)
            ) AS `k`, 7 AS `i`)
          ),
          __ibis_param_e__ -> __ibis_param_e__.`k` < -0.05
        )
      ),
      IF(
        0 < 0,
        IF(
          0 < -SIZE(
            ARRAY_SORT(
              FILTER(
                ARRAY(
                  STRUCT(-(
                    CAST(ROUND(`t12`.`_c0`, 6) AS DOUBLE)
                  ) AS `k`, 0 AS `i`),
                  STRUCT(-(
                    CAST(ROUND(`t12`.`_c1`, 6) AS DOUBLE)
                  ) AS `k`, 1 AS `i`),
                  STRUCT(-(
                    CAST(ROUND(`t12`.`_c2`, 6) AS DOUBLE)
                  ) AS `k`, 2 AS `i`),
                  STRUCT(-(
                    CAST(ROUND(`t12`.`_c3`, 6) AS DOUBLE)
                  ) AS `k`, 3 AS `i`),
                  STRUCT(-(
                    CAST(ROUND(`t12`.`_c4`, 6) AS DOUBLE)
                  ) AS `k`, 4 AS `i`),
                  STRUCT(-(
                    CAST(ROUND(`t12`.`_c5`, 6) AS DOUBLE)
                  ) AS `k`, 5 AS `i`),
                  STRUCT(-(
                    CAST(ROUND(`t12`.`_c6`, 6) AS DOUBLE)
                  ) AS `k`, 6 AS `i`),
                  STRUCT(-(
                    CAST(ROUND(`t12`.`_c7`, 6) AS DOUBLE)
                  ) AS `k`, 7 AS `i`)
                ),
                __ibis_param_e__ -> __ibis_param_e__.`k` < -0.05
              )
            )
          ),
          0,
          SIZE(
            ARRAY_SORT(
              FILTER(
                ARRAY(
                  STRUCT(-(
                    CAST(ROUND(`t12`.`_c0`, 6) AS DOUBLE)
                  ) AS `k`, 0 AS `i`),
                  STRUCT(-(
                    CAST(ROUND(`t12`.`_c1`, 6) AS DOUBLE)
                  ) AS `k`, 1 AS `i`),
                  STRUCT(-(
                    CAST(ROUND(`t12`.`_c2`, 6) AS DOUBLE)
                  ) AS `k`, 2 AS `i`),
                  STRUCT(-(
                    CAST(ROUND(`t12`.`_c3`, 6) AS DOUBLE)
                  ) AS `k`, 3 AS `i`),
                  STRUCT(-(
                    CAST(ROUND(`t12`.`_c4`, 6) AS DOUBLE)
                  ) AS `k`, 4 AS `i`),
                  STRUCT(-(
                    CAST(ROUND(`t12`.`_c5`, 6) AS DOUBLE)
                  ) AS `k`, 5 AS `i`),
                  STRUCT(-(
                    CAST(ROUND(`t12`.`_c6`, 6) AS DOUBLE)
                  ) AS `k`, 6 AS `i`),
                  STRUCT(-(
                    CAST(ROUND(`t12`.`_c7`, 6) AS DOUBLE)
                  ) AS `k`, 7 AS `i`)
                ),
                __ibis_param_e__ -> __ibis_param_e__.`k` < -0.05
              )
            )
          ) + 0
        ),
        0
      ) + 1,
      IF(
        IF(
          3 < 0,
          IF(
            3 < -SIZE(
              ARRAY_SORT(
                FILTER(
                  ARRAY(
                    STRUCT(-(
                      CAST(ROUND(`t12`.`_c0`, 6) AS DOUBLE)
                    ) AS `k`, 0 AS `i`),
                    STRUCT(-(
                      CAST(ROUND(`t12`.`_c1`, 6) AS DOUBLE)
                    ) AS `k`, 1 AS `i`),
                    STRUCT(-(
                      CAST(ROUND(`t12`.`_c2`, 6) AS DOUBLE)
                    ) AS `k`, 2 AS `i`),
                    STRUCT(-(
                      CAST(ROUND(`t12`.`_c3`, 6) AS DOUBLE)
                    ) AS `k`, 3 AS `i`),
                    STRUCT(-(
                      CAST(ROUND(`t12`.`_c4`, 6) AS DOUBLE)
                    ) AS `k`, 4 AS `i`),
                    STRUCT(-(
                      CAST(ROUND(`t12`.`_c5`, 6) AS DOUBLE)
                    ) AS `k`, 5 AS `i`),
                    STRUCT(-(
                      CAST(ROUND(`t12`.`_c6`, 6) AS DOUBLE)
                    ) AS `k`, 6 AS `i`),
                    STRUCT(-(
                      CAST(ROUND(`t12`.`_c7`, 6) AS DOUBLE)
                    ) AS `k`, 7 AS `i`)
                  ),
                  __ibis_param_e__ -> __ibis_param_e__.`k` < -0.05
                )
              )
            ),
            0,
            SIZE(
              ARRAY_SORT(
                FILTER(
                  ARRAY(
                    STRUCT(-(
                      CAST(ROUND(`t12`.`_c0`, 6) AS DOUBLE)
                    ) AS `k`, 0 AS `i`),
                    STRUCT(-(
                      CAST(ROUND(`t12`.`_c1`, 6) AS DOUBLE)
                    ) AS `k`, 1 AS `i`),
                    STRUCT(-(
                      CAST(ROUND(`t12`.`_c2`, 6) AS DOUBLE)
                    ) AS `k`, 2 AS `i`),
                    STRUCT(-(
                      CAST(ROUND(`t12`.`_c3`, 6) AS DOUBLE)
                    ) AS `k`, 3 AS `i`),
                    STRUCT(-(
                      CAST(ROUND(`t12`.`_c4`, 6) AS DOUBLE)
                    ) AS `k`, 4 AS `i`),
                    STRUCT(-(
                      CAST(ROUND(`t12`.`_c5`, 6) AS DOUBLE)
                    ) AS `k`, 5 AS `i`),
                    STRUCT(-(
                      CAST(ROUND(`t12`.`_c6`, 6) AS DOUBLE)
                    ) AS `k`, 6 AS `i`),
                    STRUCT(-(
                      CAST(ROUND(`t12`.`_c7`, 6) AS DOUBLE)
                    ) AS `k`, 7 AS `i`)
                  ),
                  __ibis_param_e__ -> __ibis_param_e__.`k` < -0.05
                )
              )
            ) + 3
          ),
          3
        ) < IF(
          0 < 0,
          IF(
            0 < -SIZE(
              ARRAY_SORT(
                FILTER(
                  ARRAY(
                    STRUCT(-(
                      CAST(ROUND(`t12`.`_c0`, 6) AS DOUBLE)
                    ) AS `k`, 0 AS `i`),
                    STRUCT(-(
                      CAST(ROUND(`t12`.`_c1`, 6) AS DOUBLE)
                    ) AS `k`, 1 AS `i`),
                    STRUCT(-(
                      CAST(ROUND(`t12`.`_c2`, 6) AS DOUBLE)
                    ) AS `k`, 2 AS `i`),
                    STRUCT(-(
                      CAST(ROUND(`t12`.`_c3`, 6) AS DOUBLE)
                    ) AS `k`, 3 AS `i`),
                    STRUCT(-(
                      CAST(ROUND(`t12`.`_c4`, 6) AS DOUBLE)
                    ) AS `k`, 4 AS `i`),
                    STRUCT(-(
                      CAST(ROUND(`t12`.`_c5`, 6) AS DOUBLE)
                    ) AS `k`, 5 AS `i`),
                    STRUCT(-(
                      CAST(ROUND(`t12`.`_c6`, 6) AS DOUBLE)
                    ) AS `k`, 6 AS `i`),
                    STRUCT(-(
                      CAST(ROUND(`t12`.`_c7`, 6) AS DOUBLE)
                    ) AS `k`, 7 AS `i`)
                  ),
                  __ibis_param_e__ -> __ibis_param_e__.`k` < -0.05
                )
              )
            ),
            0,
            SIZE(
              ARRAY_SORT(
                FILTER(
                  ARRAY(
                    STRUCT(-(
                      CAST(ROUND(`t12`.`_c0`, 6) AS DOUBLE)
                    ) AS `k`, 0 AS `i`),
                    STRUCT(-(
                      CAST(ROUND(`t12`.`_c1`, 6) AS DOUBLE)
                    ) AS `k`, 1 AS `i`),
                    STRUCT(-(
                      CAST(ROUND(`t12`.`_c2`, 6) AS DOUBLE)
                    ) AS `k`, 2 AS `i`),
                    STRUCT(-(
                      CAST(ROUND(`t12`.`_c3`, 6) AS DOUBLE)
                    ) AS `k`, 3 AS `i`),
                    STRUCT(-(
                      CAST(ROUND(`t12`.`_c4`, 6) AS DOUBLE)
                    ) AS `k`, 4 AS `i`),
                    STRUCT(-(
                      CAST(ROUND(`t12`.`_c5`, 6) AS DOUBLE)
                    ) AS `k`, 5 AS `i`),
                    STRUCT(-(
                      CAST(ROUND(`t12`.`_c6`, 6) AS DOUBLE)
                    ) AS `k`, 6 AS `i`),
                    STRUCT(-(
                      CAST(ROUND(`t12`.`_c7`, 6) AS DOUBLE)
                    ) AS `k`, 7 AS `i`)
                  ),
                  __ibis_param_e__ -> __ibis_param_e__.`k` < -0.05
                )
              )
            ) + 0
          ),
          0
        ),
        0,
        IF(
          3 < 0,
          IF(
            3 < -SIZE(
              ARRAY_SORT(
                FILTER(
                  ARRAY(
                    STRUCT(-(
                      CAST(ROUND(`t12`.`_c0`, 6) AS DOUBLE)
                    ) AS `k`, 0 AS `i`),
                    STRUCT(-(
                      CAST(ROUND(`t12`.`_c1`, 6) AS DOUBLE)
                    ) AS `k`, 1 AS `i`),
                    STRUCT(-(
                      CAST(ROUND(`t12`.`_c2`, 6) AS DOUBLE)
                    ) AS `k`, 2 AS `i`),
                    STRUCT(-(
                      CAST(ROUND(`t12`.`_c3`, 6) AS DOUBLE)
                    ) AS `k`, 3 AS `i`),
                    STRUCT(-(
                      CAST(ROUND(`t12`.`_c4`, 6) AS DOUBLE)
                    ) AS `k`, 4 AS `i`),
                    STRUCT(-(
                      CAST(ROUND(`t12`.`_c5`, 6) AS DOUBLE)
                    ) AS `k`, 5 AS `i`),
                    STRUCT(-(
                      CAST(ROUND(`t12`.`_c6`, 6) AS DOUBLE)
                    ) AS `k`, 6 AS `i`),
                    STRUCT(-(
                      CAST(ROUND(`t12`.`_c7`, 6) AS DOUBLE)
                    ) AS `k`, 7 AS `i`)
                  ),
                  __ibis_param_e__ -> __ibis_param_e__.`k` < -0.05
                )
              )
            ),
            0,
            SIZE(
              ARRAY_SORT(
                FILTER(
                  ARRAY(
                    STRUCT(-(
                      CAST(ROUND(`t12`.`_c0`, 6) AS DOUBLE)
                    ) AS `k`, 0 AS `i`),
                    STRUCT(-(
                      CAST(ROUND(`t12`.`_c1`, 6) AS DOUBLE)
                    ) AS `k`, 1 AS `i`),
                    STRUCT(-(
                      CAST(ROUND(`t12`.`_c2`, 6) AS DOUBLE)
                    ) AS `k`, 2 AS `i`),
                    STRUCT(-(
                      CAST(ROUND(`t12`.`_c3`, 6) AS DOUBLE)
                    ) AS `k`, 3 AS `i`),
                    STRUCT(-(
                      CAST(ROUND(`t12`.`_c4`, 6) AS DOUBLE)
                    ) AS `k`, 4 AS `i`),
                    STRUCT(-(
                      CAST(ROUND(`t12`.`_c5`, 6) AS DOUBLE)
                    ) AS `k`, 5 AS `i`),
                    STRUCT(-(
                      CAST(ROUND(`t12`.`_c6`, 6) AS DOUBLE)
                    ) AS `k`, 6 AS `i`),
                    STRUCT(-(
                      CAST(ROUND(`t12`.`_c7`, 6) AS DOUBLE)
                    ) AS `k`, 7 AS `i`)
                  ),
                  __ibis_param_e__ -> __ibis_param_e__.`k` < -0.05
                )
              )
            ) + 3
          ),
          3
        ) - IF(
          0 < 0,
          IF(
            0 < -SIZE(
              ARRAY_SORT(
                FILTER(
                  ARRAY(
                    STRUCT(-(
                      CAST(ROUND(`t12`.`_c0`, 6) AS DOUBLE)
                    ) AS `k`, 0 AS `i`),
                    STRUCT(-(
                      CAST(ROUND(`t12`.`_c1`, 6) AS DOUBLE)
                    ) AS `k`, 1 AS `i`),
                    STRUCT(-(
                      CAST(ROUND(`t12`.`_c2`, 6) AS DOUBLE)
                    ) AS `k`, 2 AS `i`),
                    STRUCT(-(
                      CAST(ROUND(`t12`.`_c3`, 6) AS DOUBLE)
                    ) AS `k`, 3 AS `i`),
                    STRUCT(-(
                      CAST(ROUND(`t12`.`_c4`, 6) AS DOUBLE)
                    ) AS `k`, 4 AS `i`),
                    STRUCT(-(
                      CAST(ROUND(`t12`.`_c5`, 6) AS DOUBLE)
                    ) AS `k`, 5 AS `i`),
                    STRUCT(-(
                      CAST(ROUND(`t12`.`_c6`, 6) AS DOUBLE)
                    ) AS `k`, 6 AS `i`),
                    STRUCT(-(
                      CAST(ROUND(`t12`.`_c7`, 6) AS DOUBLE)
                    ) AS `k`, 7 AS `i`)
                  ),
                  __ibis_param_e__ -> __ibis_param_e__.`k` < -0.05
                )
              )
            ),
            0,
            SIZE(
              ARRAY_SORT(
                FILTER(
                  ARRAY(
                    STRUCT(-(
                      CAST(ROUND(`t12`.`_c0`, 6) AS DOUBLE)
                    ) AS `k`, 0 AS `i`),
                    STRUCT(-(
                      CAST(ROUND(`t12`.`_c1`, 6) AS DOUBLE)
                    ) AS `k`, 1 AS `i`),
                    STRUCT(-(
                      CAST(ROUND(`t12`.`_c2`, 6) AS DOUBLE)
                    ) AS `k`, 2 AS `i`),
                    STRUCT(-(
                      CAST(ROUND(`t12`.`_c3`, 6) AS DOUBLE)
                    ) AS `k`, 3 AS `i`),
                    STRUCT(-(
                      CAST(ROUND(`t12`.`_c4`, 6) AS DOUBLE)
                    ) AS `k`, 4 AS `i`),
                    STRUCT(-(
                      CAST(ROUND(`t12`.`_c5`, 6) AS DOUBLE)
                    ) AS `k`, 5 AS `i`),
                    STRUCT(-(
                      CAST(ROUND(`t12`.`_c6`, 6) AS DOUBLE)
                    ) AS `k`, 6 AS `i`),
                    STRUCT(-(
                      CAST(ROUND(`t12`.`_c7`, 6) AS DOUBLE)
                    ) AS `k`, 7 AS `i`)
                  ),
                  __ibis_param_e__ -> __ibis_param_e__.`k` < -0.05
                )
              )
            ) + 0
          ),
          0
        )
      )
    ) AS `_top`
  FROM (
    SELECT
      `t11`.`account_id`,
      `t11`.`name`,
      `t11`.`domain`,
      `t11`.`website`,
      `t11`.`industry`,
      `t11`.`employees`,
      `t11`.`annual_revenue`,
      `t11`.`revenue_growth`,
      `t11`.`country`,
      `t11`.`region`,
      `t11`.`state`,
      `t11`.`city`,
      `t11`.`business_units`,
      `t11`.`tech_stack`,
      `t11`.`funding_stage`,
      `t11`.`owner_id`,
      `t11`.`parent_account_id`,
      `t11`.`is_customer`,
      `t11`.`created_at`,
      `t11`.`updated_at`,
      `t11`.`_fit__size`,
      `t11`.`_fitlabel__size`,
      `t11`.`_fit__industry`,
      `t11`.`_fitlabel__industry`,
      `t11`.`_fit__stack`,
      `t11`.`_fitlabel__stack`,
      `t11`.`_fit__geo`,
      `t11`.`_fitlabel__geo`,
      `t11`.`_fit__complex`,
      `t11`.`_fitlabel__complex`,
      `t11`.`_n__funding_round`,
      `t11`.`_p__funding_round`,
      `t11`.`_a__funding_round`,
      `t11`.`_n__demo_request`,
      `t11`.`_p__demo_request`,
      `t11`.`_a__demo_request`,
      `t11`.`_n__unsubscribe`,
      `t11`.`_p__unsubscribe`,
      `t11`.`_a__unsubscribe`,
      `t11`.`fit_score`,
      `t11`.`signal_score`,
      `t11`.`engagement_score`,
      `t11`.`score`,
      CASE
        WHEN `t11`.`score` >= 70.0
        THEN 'A'
        WHEN `t11`.`score` >= 40.0
        THEN 'B'
        ELSE 'C'
      END AS `tier`,
      `t11`.`_fit__size` * 1.25 AS `_c0`,
      `t11`.`_fit__industry` * 1.25 AS `_c1`,
      `t11`.`_fit__stack` * 1.25 AS `_c2`,
      `t11`.`_fit__geo` * 1.25 AS `_c3`,
      `t11`.`_fit__complex` * 1.25 AS `_c4`,
      `t11`.`_p__funding_round` * IF(
        (
          0.0 + `t11`.`_p__funding_round`
        ) > 0,
        IF(
          IF(
            (
              0.0 + `t11`.`_p__funding_round`
            ) IS NULL,
            0.0 + `t11`.`_p__funding_round`,
            LEAST(40.0, 0.0 + `t11`.`_p__funding_round`)
          ) IS NULL,
          IF(
            (
              0.0 + `t11`.`_p__funding_round`
            ) IS NULL,
            0.0 + `t11`.`_p__funding_round`,
            LEAST(40.0, 0.0 + `t11`.`_p__funding_round`)
          ),
          GREATEST(
            0.0,
            IF(
              (
                0.0 + `t11`.`_p__funding_round`
              ) IS NULL,
              0.0 + `t11`.`_p__funding_round`,
              LEAST(40.0, 0.0 + `t11`.`_p__funding_round`)
            )
          )
        ) / (
          0.0 + `t11`.`_p__funding_round`
        ),
        0.0
      ) * 0.75 AS `_c5`,
      `t11`.`_p__demo_request` * IF(
        (
          0.0 + `t11`.`_p__demo_request` + `t11`.`_p__unsubscribe`
        ) > 0,
        IF(
          IF(
            (
              0.0 + `t11`.`_p__demo_request` + `t11`.`_p__unsubscribe`
            ) IS NULL,
            0.0 + `t11`.`_p__demo_request` + `t11`.`_p__unsubscribe`,
            LEAST(30.0, 0.0 + `t11`.`_p__demo_request` + `t11`.`_p__unsubscribe`)
          ) IS NULL,
          IF(
            (
              0.0 + `t11`.`_p__demo_request` + `t11`.`_p__unsubscribe`
            ) IS NULL,
            0.0 + `t11`.`_p__demo_request` + `t11`.`_p__unsubscribe`,
            LEAST(30.0, 0.0 + `t11`.`_p__demo_request` + `t11`.`_p__unsubscribe`)
          ),
          GREATEST(
            0.0,
            IF(
              (
                0.0 + `t11`.`_p__demo_request` + `t11`.`_p__unsubscribe`
              ) IS NULL,
              0.0 + `t11`.`_p__demo_request` + `t11`.`_p__unsubscribe`,
              LEAST(30.0, 0.0 + `t11`.`_p__demo_request` + `t11`.`_p__unsubscribe`)
            )
          )
        ) / (
          0.0 + `t11`.`_p__demo_request` + `t11`.`_p__unsubscribe`
        ),
        0.0
      ) * 0.6666666666666666 AS `_c6`,
      `t11`.`_p__unsubscribe` * IF(
        (
          0.0 + `t11`.`_p__demo_request` + `t11`.`_p__unsubscribe`
        ) > 0,
        IF(
          IF(
            (
              0.0 + `t11`.`_p__demo_request` + `t11`.`_p__unsubscribe`
            ) IS NULL,
            0.0 + `t11`.`_p__demo_request` + `t11`.`_p__unsubscribe`,
            LEAST(30.0, 0.0 + `t11`.`_p__demo_request` + `t11`.`_p__unsubscribe`)
          ) IS NULL,
          IF(
            (
              0.0 + `t11`.`_p__demo_request` + `t11`.`_p__unsubscribe`
            ) IS NULL,
            0.0 + `t11`.`_p__demo_request` + `t11`.`_p__unsubscribe`,
            LEAST(30.0, 0.0 + `t11`.`_p__demo_request` + `t11`.`_p__unsubscribe`)
          ),
          GREATEST(
            0.0,
            IF(
              (
                0.0 + `t11`.`_p__demo_request` + `t11`.`_p__unsubscribe`
              ) IS NULL,
              0.0 + `t11`.`_p__demo_request` + `t11`.`_p__unsubscribe`,
              LEAST(30.0, 0.0 + `t11`.`_p__demo_request` + `t11`.`_p__unsubscribe`)
            )
          )
        ) / (
          0.0 + `t11`.`_p__demo_request` + `t11`.`_p__unsubscribe`
        ),
        0.0
      ) * 0.6666666666666666 AS `_c7`
    FROM (
      SELECT
        `t10`.`account_id`,
        `t10`.`name`,
        `t10`.`domain`,
        `t10`.`website`,
        `t10`.`industry`,
        `t10`.`employees`,
        `t10`.`annual_revenue`,
        `t10`.`revenue_growth`,
        `t10`.`country`,
        `t10`.`region`,
        `t10`.`state`,
        `t10`.`city`,
        `t10`.`business_units`,
        `t10`.`tech_stack`,
        `t10`.`funding_stage`,
        `t10`.`owner_id`,
        `t10`.`parent_account_id`,
        `t10`.`is_customer`,
        `t10`.`created_at`,
        `t10`.`updated_at`,
        `t10`.`_fit__size`,
        `t10`.`_fitlabel__size`,
        `t10`.`_fit__industry`,
        `t10`.`_fitlabel__industry`,
        `t10`.`_fit__stack`,
        `t10`.`_fitlabel__stack`,
        `t10`.`_fit__geo`,
        `t10`.`_fitlabel__geo`,
        `t10`.`_fit__complex`,
        `t10`.`_fitlabel__complex`,
        COALESCE(`t10`.`_n__funding_round`, 0) AS `_n__funding_round`,
        COALESCE(`t10`.`_p__funding_round`, 0.0) AS `_p__funding_round`,
        `t10`.`_a__funding_round`,
        COALESCE(`t10`.`_n__demo_request`, 0) AS `_n__demo_request`,
        COALESCE(`t10`.`_p__demo_request`, 0.0) AS `_p__demo_request`,
        `t10`.`_a__demo_request`,
        COALESCE(`t10`.`_n__unsubscribe`, 0) AS `_n__unsubscribe`,
        COALESCE(`t10`.`_p__unsubscribe`, 0.0) AS `_p__unsubscribe`,
        `t10`.`_a__unsubscribe`,
        CAST(ROUND(
          (
            (
              0.0 + `t10`.`_fit__size` + `t10`.`_fit__industry` + `t10`.`_fit__stack` + `t10`.`_fit__geo` + `t10`.`_fit__complex`
            ) * 100.0
          ) / 40.0,
          2
        ) AS DOUBLE) AS `fit_score`,
        CAST(ROUND(
          (
            IF(
              IF(
                (
                  0.0 + COALESCE(`t10`.`_p__funding_round`, 0.0)
                ) IS NULL,
                0.0 + COALESCE(`t10`.`_p__funding_round`, 0.0),
                LEAST(40.0, 0.0 + COALESCE(`t10`.`_p__funding_round`, 0.0))
              ) IS NULL,
              IF(
                (
                  0.0 + COALESCE(`t10`.`_p__funding_round`, 0.0)
                ) IS NULL,
                0.0 + COALESCE(`t10`.`_p__funding_round`, 0.0),
                LEAST(40.0, 0.0 + COALESCE(`t10`.`_p__funding_round`, 0.0))
              ),
              GREATEST(
                0.0,
                IF(
                  (
                    0.0 + COALESCE(`t10`.`_p__funding_round`, 0.0)
                  ) IS NULL,
                  0.0 + COALESCE(`t10`.`_p__funding_round`, 0.0),
                  LEAST(40.0, 0.0 + COALESCE(`t10`.`_p__funding_round`, 0.0))
                )
              )
            ) * 100.0
          ) / 40.0,
          2
        ) AS DOUBLE) AS `signal_score`,
        CAST(ROUND(
          (
            IF(
              IF(
                (
                  0.0 + COALESCE(`t10`.`_p__demo_request`, 0.0) + COALESCE(`t10`.`_p__unsubscribe`, 0.0)
                ) IS NULL,
                0.0 + COALESCE(`t10`.`_p__demo_request`, 0.0) + COALESCE(`t10`.`_p__unsubscribe`, 0.0),
                LEAST(
                  30.0,
                  0.0 + COALESCE(`t10`.`_p__demo_request`, 0.0) + COALESCE(`t10`.`_p__unsubscribe`, 0.0)
                )
              ) IS NULL,
              IF(
                (
                  0.0 + COALESCE(`t10`.`_p__demo_request`, 0.0) + COALESCE(`t10`.`_p__unsubscribe`, 0.0)
                ) IS NULL,
                0.0 + COALESCE(`t10`.`_p__demo_request`, 0.0) + COALESCE(`t10`.`_p__unsubscribe`, 0.0),
                LEAST(
                  30.0,
                  0.0 + COALESCE(`t10`.`_p__demo_request`, 0.0) + COALESCE(`t10`.`_p__unsubscribe`, 0.0)
                )
              ),
              GREATEST(
                0.0,
                IF(
                  (
                    0.0 + COALESCE(`t10`.`_p__demo_request`, 0.0) + COALESCE(`t10`.`_p__unsubscribe`, 0.0)
                  ) IS NULL,
                  0.0 + COALESCE(`t10`.`_p__demo_request`, 0.0) + COALESCE(`t10`.`_p__unsubscribe`, 0.0),
                  LEAST(
                    30.0,
                    0.0 + COALESCE(`t10`.`_p__demo_request`, 0.0) + COALESCE(`t10`.`_p__unsubscribe`, 0.0)
                  )
                )
              )
            ) * 100.0
          ) / 30.0,
          2
        ) AS DOUBLE) AS `engagement_score`,
        CAST(ROUND(
          (
            (
              (
                (
                  (
                    0.0 + `t10`.`_fit__size` + `t10`.`_fit__industry` + `t10`.`_fit__stack` + `t10`.`_fit__geo` + `t10`.`_fit__complex`
                  ) * 100.0
                ) / 40.0
              ) * 50.0
            ) + (
              (
                (
                  IF(
                    IF(
                      (
                        0.0 + COALESCE(`t10`.`_p__funding_round`, 0.0)
                      ) IS NULL,
                      0.0 + COALESCE(`t10`.`_p__funding_round`, 0.0),
                      LEAST(40.0, 0.0 + COALESCE(`t10`.`_p__funding_round`, 0.0))
                    ) IS NULL,
                    IF(
                      (
                        0.0 + COALESCE(`t10`.`_p__funding_round`, 0.0)
                      ) IS NULL,
                      0.0 + COALESCE(`t10`.`_p__funding_round`, 0.0),
                      LEAST(40.0, 0.0 + COALESCE(`t10`.`_p__funding_round`, 0.0))
                    ),
                    GREATEST(
                      0.0,
                      IF(
                        (
                          0.0 + COALESCE(`t10`.`_p__funding_round`, 0.0)
                        ) IS NULL,
                        0.0 + COALESCE(`t10`.`_p__funding_round`, 0.0),
                        LEAST(40.0, 0.0 + COALESCE(`t10`.`_p__funding_round`, 0.0))
                      )
                    )
                  ) * 100.0
                ) / 40.0
              ) * 30.0
            ) + (
              (
                (
                  IF(
                    IF(
                      (
                        0.0 + COALESCE(`t10`.`_p__demo_request`, 0.0) + COALESCE(`t10`.`_p__unsubscribe`, 0.0)
                      ) IS NULL,
                      0.0 + COALESCE(`t10`.`_p__demo_request`, 0.0) + COALESCE(`t10`.`_p__unsubscribe`, 0.0),
                      LEAST(
                        30.0,
                        0.0 + COALESCE(`t10`.`_p__demo_request`, 0.0) + COALESCE(`t10`.`_p__unsubscribe`, 0.0)
                      )
                    ) IS NULL,
                    IF(
                      (
                        0.0 + COALESCE(`t10`.`_p__demo_request`, 0.0) + COALESCE(`t10`.`_p__unsubscribe`, 0.0)
                      ) IS NULL,
                      0.0 + COALESCE(`t10`.`_p__demo_request`, 0.0) + COALESCE(`t10`.`_p__unsubscribe`, 0.0),
                      LEAST(
                        30.0,
                        0.0 + COALESCE(`t10`.`_p__demo_request`, 0.0) + COALESCE(`t10`.`_p__unsubscribe`, 0.0)
                      )
                    ),
                    GREATEST(
                      0.0,
                      IF(
                        (
                          0.0 + COALESCE(`t10`.`_p__demo_request`, 0.0) + COALESCE(`t10`.`_p__unsubscribe`, 0.0)
                        ) IS NULL,
                        0.0 + COALESCE(`t10`.`_p__demo_request`, 0.0) + COALESCE(`t10`.`_p__unsubscribe`, 0.0),
                        LEAST(
                          30.0,
                          0.0 + COALESCE(`t10`.`_p__demo_request`, 0.0) + COALESCE(`t10`.`_p__unsubscribe`, 0.0)
                        )
                      )
                    )
                  ) * 100.0
                ) / 30.0
              ) * 20.0
            ) + CAST('0.0' AS DOUBLE)
          ) / 100.0,
          2
        ) AS DOUBLE) AS `score`
      FROM (
        SELECT
          `t4`.`account_id`,
          `t4`.`name`,
          `t4`.`domain`,
          `t4`.`website`,
          `t4`.`industry`,
          `t4`.`employees`,
          `t4`.`annual_revenue`,
          `t4`.`revenue_growth`,
          `t4`.`country`,
          `t4`.`region`,
          `t4`.`state`,
          `t4`.`city`,
          `t4`.`business_units`,
          `t4`.`tech_stack`,
          `t4`.`funding_stage`,
          `t4`.`owner_id`,
          `t4`.`parent_account_id`,
          `t4`.`is_customer`,
          `t4`.`created_at`,
          `t4`.`updated_at`,
          `t4`.`_fit__size`,
          `t4`.`_fitlabel__size`,
          `t4`.`_fit__industry`,
          `t4`.`_fitlabel__industry`,
          `t4`.`_fit__stack`,
          `t4`.`_fitlabel__stack`,
          `t4`.`_fit__geo`,
          `t4`.`_fitlabel__geo`,
          `t4`.`_fit__complex`,
          `t4`.`_fitlabel__complex`,
          `t9`.`_n__funding_round`,
          `t9`.`_p__funding_round`,
          `t9`.`_a__funding_round`,
          `t9`.`_n__demo_request`,
          `t9`.`_p__demo_request`,
          `t9`.`_a__demo_request`,
          `t9`.`_n__unsubscribe`,
          `t9`.`_p__unsubscribe`,
          `t9`.`_a__unsubscribe`
        FROM (
          SELECT
            `t0`.`account_id`,
            `t0`.`name`,
            `t0`.`domain`,
            `t0`.`website`,
            `t0`.`industry`,
            `t0`.`Employee_Count__c` AS `employees`,
            `t0`.`annual_revenue`,
            `t0`.`revenue_growth`,
            `t0`.`country`,
            `t0`.`region`,
            `t0`.`state`,
            `t0`.`city`,
            `t0`.`business_units`,
            `t0`.`tech_stack`,
            `t0`.`funding_stage`,
            `t0`.`owner_id`,
            `t0`.`parent_account_id`,
            `t0`.`is_customer`,
            `t0`.`created_at`,
            `t0`.`updated_at`,
            COALESCE(
              CASE
                WHEN TRUE AND (
                  `t0`.`Employee_Count__c` >= 1000.0
                )
                THEN CAST('10.0' AS DOUBLE)
                WHEN TRUE
                AND (
                  `t0`.`Employee_Count__c` >= 100.0
                )
                AND (
                  `t0`.`Employee_Count__c` < 1000.0
                )
                THEN CAST('5.0' AS DOUBLE)
                ELSE CAST('0.0' AS DOUBLE)
              END,
              0.0
            ) AS `_fit__size`,
            CONCAT('employees = ', CAST(`t0`.`Employee_Count__c` AS STRING)) AS `_fitlabel__size`,
            COALESCE(
              CASE
                WHEN LOWER(TRIM(' \t\n\r\013\014' FROM `t0`.`industry`)) = 'software'
                THEN CAST('10.0' AS DOUBLE)
                WHEN LOWER(TRIM(' \t\n\r\013\014' FROM `t0`.`industry`)) = 'retail'
                THEN CAST('4.0' AS DOUBLE)
                ELSE CAST('0.0' AS DOUBLE)
              END,
              0.0
            ) AS `_fit__industry`,
            CONCAT('industry = ', LOWER(TRIM(' \t\n\r\013\014' FROM `t0`.`industry`))) AS `_fitlabel__industry`,
            COALESCE(
              IF(
                (
                  CAST(SIZE(
                    FILTER(
                      `t0`.`tech_stack`,
                      __ibis_param_x__ -> __ibis_param_x__ IN ('salesforce', 'snowflake')
                    )
                  ) AS DOUBLE) / 2
                ) IS NULL,
                CAST(SIZE(
                  FILTER(
                    `t0`.`tech_stack`,
                    __ibis_param_x__ -> __ibis_param_x__ IN ('salesforce', 'snowflake')
                  )
                ) AS DOUBLE) / 2,
                LEAST(
                  1.0,
                  CAST(SIZE(
                    FILTER(
                      `t0`.`tech_stack`,
                      __ibis_param_x__ -> __ibis_param_x__ IN ('salesforce', 'snowflake')
                    )
                  ) AS DOUBLE) / 2
                )
              ) * CAST('10.0' AS DOUBLE),
              0.0
            ) AS `_fit__stack`,
            CONCAT(
              'tech_stack has ',
              IF(
                SIZE(
                  FILTER(
                    `t0`.`tech_stack`,
                    __ibis_param_x__ -> __ibis_param_x__ IN ('salesforce', 'snowflake')
                  )
                ) > 0,
                CONCAT_WS(
                  ', ',
                  FILTER(
                    `t0`.`tech_stack`,
                    __ibis_param_x__ -> __ibis_param_x__ IN ('salesforce', 'snowflake')
                  )
                ),
                NULL
              )
            ) AS `_fitlabel__stack`,
            COALESCE(
              IF(
                LOWER(TRIM(' \t\n\r\013\014' FROM `t0`.`country`)) IN ('us', 'ca'),
                CAST('5.0' AS DOUBLE),
                CAST('0.0' AS DOUBLE)
              ),
              0.0
            ) AS `_fit__geo`,
            CONCAT('country = ', TRIM(' \t\n\r\013\014' FROM `t0`.`country`)) AS `_fitlabel__geo`,
            IF(
              COALESCE(
                COALESCE(`t0`.`Employee_Count__c` >= 10, FALSE)
                AND COALESCE(`t0`.`business_units` >= 3, FALSE),
                FALSE
              ),
              CAST('5.0' AS DOUBLE),
              CAST('0.0' AS DOUBLE)
            ) AS `_fit__complex`,
            'complex' AS `_fitlabel__complex`
          FROM `accounts` AS `t0`
        ) AS `t4`
        LEFT OUTER JOIN (
          SELECT
            `t7`.`account_id`,
            `t7`.`_e__funding_round`.`n` AS `_n__funding_round`,
            `t7`.`_e__funding_round`.`p` AS `_p__funding_round`,
            `t7`.`_e__funding_round`.`a` AS `_a__funding_round`,
            `t7`.`_e__demo_request`.`n` AS `_n__demo_request`,
            `t7`.`_e__demo_request`.`p` AS `_p__demo_request`,
            `t7`.`_e__demo_request`.`a` AS `_a__demo_request`,
            `t7`.`_e__unsubscribe`.`n` AS `_n__unsubscribe`,
            `t7`.`_e__unsubscribe`.`p` AS `_p__unsubscribe`,
            `t7`.`_e__unsubscribe`.`a` AS `_a__unsubscribe`
          FROM (
            SELECT
              `t6`.`account_id`,
              FIRST(
                IF(
                  `t6`.`event_type` = 'funding_round',
                  STRUCT(`t6`.`_n` AS `n`, `t6`.`_p` AS `p`, `t6`.`_min_age` AS `a`),
                  NULL
                )
              ) IGNORE NULLS AS `_e__funding_round`,
              FIRST(
                IF(
                  `t6`.`event_type` = 'demo_request',
                  STRUCT(`t6`.`_n` AS `n`, `t6`.`_p` AS `p`, `t6`.`_min_age` AS `a`),
                  NULL
                )
              ) IGNORE NULLS AS `_e__demo_request`,
              FIRST(
                IF(
                  `t6`.`event_type` = 'unsubscribe',
                  STRUCT(`t6`.`_n` AS `n`, `t6`.`_p` AS `p`, `t6`.`_min_age` AS `a`),
                  NULL
                )
              ) IGNORE NULLS AS `_e__unsubscribe`
            FROM (
              SELECT
                `t5`.`account_id`,
                `t5`.`event_type`,
                `t5`.`_n`,
                `t5`.`_decay`,
                `t5`.`_min_age`,
                CASE
                  WHEN `t5`.`event_type` = 'funding_round'
                  THEN `t5`.`_decay` * 30.0
                  WHEN `t5`.`event_type` = 'demo_request'
                  THEN `t5`.`_decay` * 20.0
                  WHEN `t5`.`event_type` = 'unsubscribe'
                  THEN `t5`.`_decay` * -10.0
                  ELSE 0.0
                END AS `_p`
              FROM (
                SELECT
                  `t2`.`account_id`,
                  `t2`.`event_type`,
                  COUNT(*) AS `_n`,
                  SUM(
                    POWER(
                      0.5,
                      (
                        CAST(`t2`.`_age` AS DOUBLE) / CASE
                          WHEN `t2`.`event_type` IN ('funding_round')
                          THEN 30.0
                          WHEN `t2`.`event_type` IN ('demo_request', 'unsubscribe')
                          THEN 14.0
                          ELSE 1.0
                        END
                      )
                    )
                  ) AS `_decay`,
                  MIN(`t2`.`_age`) AS `_min_age`
                FROM (
                  SELECT
                    `t1`.`account_id`,
                    `t1`.`event_type`,
                    DATEDIFF(DAY, CAST(`t1`.`occurred_at` AS DATE), MAKE_DATE(2026, 11, 1)) AS `_age`
                  FROM `activities` AS `t1`
                  WHERE
                    `t1`.`event_type` IN ('funding_round', 'demo_request', 'unsubscribe')
                    AND DATEDIFF(DAY, CAST(`t1`.`occurred_at` AS DATE), MAKE_DATE(2026, 11, 1)) >= 0
                    AND DATEDIFF(DAY, CAST(`t1`.`occurred_at` AS DATE), MAKE_DATE(2026, 11, 1)) <= 90.0
                    AND DATEDIFF(DAY, CAST(`t1`.`occurred_at` AS DATE), MAKE_DATE(2026, 11, 1)) <= CASE
                      WHEN `t1`.`event_type` IN ('funding_round')
                      THEN 90.0
                      WHEN `t1`.`event_type` IN ('demo_request', 'unsubscribe')
                      THEN 60.0
                      ELSE -1.0
                    END
                ) AS `t2`
                GROUP BY
                  1,
                  2
              ) AS `t5`
            ) AS `t6`
            GROUP BY
              1
          ) AS `t7`
        ) AS `t9`
          ON `t4`.`account_id` = `t9`.`account_id`
      ) AS `t10`
    ) AS `t11`
  ) AS `t12`
) AS `t13`;
