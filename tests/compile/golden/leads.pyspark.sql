-- tierwise scoring for pyspark: spec <spec-hash>, as of 2026-11-01, inputs lead_activities, leads
WITH `t9` AS (
  SELECT
    `t8`.`lead_id`,
    `t8`.`email`,
    `t8`.`company`,
    `t8`.`website`,
    `t8`.`title`,
    `t8`.`seniority`,
    `t8`.`persona`,
    `t8`.`country`,
    `t8`.`employees`,
    `t8`.`industry`,
    `t8`.`lead_source`,
    `t8`.`status`,
    `t8`.`created_at`,
    `t8`.`updated_at`,
    `t8`.`_email_ok`,
    `t8`.`_domain`,
    `t8`.`_last_age`,
    `t8`.`_n__demo_request`,
    `t8`.`_n__pricing_page_visit`,
    `t8`.`_event_count__pricing_page_visit__14`,
    `t8`.`fit__title`,
    `t8`.`behaviour__intent`,
    `t8`.`penalty__personal_email`,
    CAST(ROUND(CAST('0.0' AS DOUBLE) + `t8`.`fit__title`, 2) AS DOUBLE) AS `fit_points`,
    CAST(ROUND(CAST('0.0' AS DOUBLE) + `t8`.`behaviour__intent`, 2) AS DOUBLE) AS `behaviour_points`,
    CAST(ROUND(CAST('0.0' AS DOUBLE) + `t8`.`penalty__personal_email`, 2) AS DOUBLE) AS `negative_points`,
    COALESCE(
      `t8`.`_last_age`,
      IF(
        DATEDIFF(DAY, CAST(`t8`.`created_at` AS DATE), MAKE_DATE(2026, 11, 1)) >= 0,
        DATEDIFF(DAY, CAST(`t8`.`created_at` AS DATE), MAKE_DATE(2026, 11, 1)),
        CAST(NULL AS BIGINT)
      )
    ) AS `days_since_activity`,
    CAST(ROUND(
      POWER(
        0.75,
        COALESCE(
          CAST(FLOOR(
            CAST(COALESCE(
              `t8`.`_last_age`,
              IF(
                DATEDIFF(DAY, CAST(`t8`.`created_at` AS DATE), MAKE_DATE(2026, 11, 1)) >= 0,
                DATEDIFF(DAY, CAST(`t8`.`created_at` AS DATE), MAKE_DATE(2026, 11, 1)),
                CAST(NULL AS BIGINT)
              )
            ) AS DOUBLE) / 30
          ) AS BIGINT),
          0.0
        )
      ),
      4
    ) AS DOUBLE) AS `decay_factor`,
    CAST(ROUND(
      GREATEST(
        LEAST(
          CAST('0.0' AS DOUBLE) + `t8`.`fit__title` + (
            CAST('0.0' AS DOUBLE) + `t8`.`behaviour__intent`
          ) + (
            CAST('0.0' AS DOUBLE) + `t8`.`penalty__personal_email`
          ),
          CAST('100.0' AS DOUBLE)
        ),
        CAST('0.0' AS DOUBLE)
      ) * (
        POWER(
          0.75,
          COALESCE(
            CAST(FLOOR(
              CAST(COALESCE(
                `t8`.`_last_age`,
                IF(
                  DATEDIFF(DAY, CAST(`t8`.`created_at` AS DATE), MAKE_DATE(2026, 11, 1)) >= 0,
                  DATEDIFF(DAY, CAST(`t8`.`created_at` AS DATE), MAKE_DATE(2026, 11, 1)),
                  CAST(NULL AS BIGINT)
                )
              ) AS DOUBLE) / 30
            ) AS BIGINT),
            0.0
          )
        )
      ),
      2
    ) AS DOUBLE) AS `lead_score`
  FROM (
    SELECT
      `t7`.`lead_id`,
      `t7`.`email`,
      `t7`.`company`,
      `t7`.`website`,
      `t7`.`title`,
      `t7`.`seniority`,
      `t7`.`persona`,
      `t7`.`country`,
      `t7`.`employees`,
      `t7`.`industry`,
      `t7`.`lead_source`,
      `t7`.`status`,
      `t7`.`created_at`,
      `t7`.`updated_at`,
      `t7`.`_email_ok`,
      `t7`.`_domain`,
      `t7`.`_last_age`,
      COALESCE(`t7`.`_n__demo_request`, 0) AS `_n__demo_request`,
      COALESCE(`t7`.`_n__pricing_page_visit`, 0) AS `_n__pricing_page_visit`,
      COALESCE(`t7`.`_event_count__pricing_page_visit__14`, 0) AS `_event_count__pricing_page_visit__14`,
      COALESCE(
        CASE
          WHEN LOWER(`t7`.`title`) RLIKE '(^|[^a-z0-9])(vp)($|[^a-z0-9])'
          THEN CAST('15.0' AS DOUBLE)
          WHEN LOWER(`t7`.`title`) RLIKE '(^|[^a-z0-9])(director)($|[^a-z0-9])'
          THEN CAST('10.0' AS DOUBLE)
          ELSE CAST('0.0' AS DOUBLE)
        END,
        0.0
      ) AS `fit__title`,
      LEAST(
        CAST('0.0' AS DOUBLE) + (
          CAST(COALESCE(`t7`.`_n__demo_request`, 0) AS DOUBLE) * 30.0
        ) + LEAST(
          CAST(COALESCE(`t7`.`_n__pricing_page_visit`, 0) AS DOUBLE) * 10.0,
          CAST('20.0' AS DOUBLE)
        ),
        CAST('40.0' AS DOUBLE)
      ) AS `behaviour__intent`,
      IF(
        COALESCE(
          `t7`.`_domain` IN (
            '126.com',
            '163.com',
            'aol.com',
            'comcast.net',
            'gmail.com',
            'gmx.com',
            'gmx.de',
            'gmx.net',
            'googlemail.com',
            'hotmail.co.uk',
            'hotmail.com',
            'hotmail.fr',
            'icloud.com',
            'live.com',
            'mac.com',
            'mail.com',
            'mail.ru',
            'me.com',
            'msn.com',
            'outlook.com',
            'proton.me',
            'protonmail.com',
            'qq.com',
            'web.de',
            'yahoo.co.uk',
            'yahoo.com',
            'yahoo.fr',
            'yandex.ru',
            'zoho.com'
          ),
          FALSE
        ),
        CAST('-15.0' AS DOUBLE),
        CAST('0.0' AS DOUBLE)
      ) AS `penalty__personal_email`
    FROM (
      SELECT
        `t4`.`lead_id`,
        `t4`.`email`,
        `t4`.`company`,
        `t4`.`website`,
        `t4`.`title`,
        `t4`.`seniority`,
        `t4`.`persona`,
        `t4`.`country`,
        `t4`.`employees`,
        `t4`.`industry`,
        `t4`.`lead_source`,
        `t4`.`status`,
        `t4`.`created_at`,
        `t4`.`updated_at`,
        `t4`.`_email_ok`,
        `t4`.`_domain`,
        `t6`.`_last_age`,
        `t6`.`_n__demo_request`,
        `t6`.`_n__pricing_page_visit`,
        `t6`.`_event_count__pricing_page_visit__14`
      FROM (
        SELECT
          `t0`.`lead_id`,
          `t0`.`email`,
          `t0`.`company`,
          `t0`.`website`,
          `t0`.`title`,
          `t0`.`seniority`,
          NULLIF(LOWER(TRIM(' \t\n\r\013\014' FROM `t0`.`persona`)), '') AS `persona`,
          `t0`.`country`,
          `t0`.`employees`,
          `t0`.`industry`,
          `t0`.`lead_source`,
          `t0`.`status`,
          `t0`.`created_at`,
          `t0`.`updated_at`,
          COALESCE(
            LOWER(TRIM(' \t\n\r\013\014' FROM `t0`.`email`)) RLIKE '^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$',
            FALSE
          ) AS `_email_ok`,
          IF(
            COALESCE(
              LOWER(TRIM(' \t\n\r\013\014' FROM `t0`.`email`)) RLIKE '^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$',
              FALSE
            ),
            NULLIF(
              REGEXP_EXTRACT(LOWER(TRIM(' \t\n\r\013\014' FROM `t0`.`email`)), '@([^@\\s]+)$'),
              ''
            ),
            CAST(NULL AS STRING)
          ) AS `_domain`
        FROM `leads` AS `t0`
      ) AS `t4`
      LEFT OUTER JOIN (
        SELECT
          `t2`.`lead_id`,
          MIN(`t2`.`_age`) AS `_last_age`,
          SUM(
            CAST((
              `t2`.`event_type` = 'demo_request'
            ) AND (
              `t2`.`_age` <= 180
            ) AS BIGINT)
          ) AS `_n__demo_request`,
          SUM(
            CAST((
              `t2`.`event_type` = 'pricing_page_visit'
            ) AND (
              `t2`.`_age` <= 180
            ) AS BIGINT)
          ) AS `_n__pricing_page_visit`,
          SUM(
            CAST((
              `t2`.`event_type` = 'pricing_page_visit'
            ) AND (
              `t2`.`_age` <= 14
            ) AS BIGINT)
          ) AS `_event_count__pricing_page_visit__14`
        FROM (
          SELECT
            `t1`.`lead_id`,
            `t1`.`event_type`,
            DATEDIFF(DAY, CAST(`t1`.`occurred_at` AS DATE), MAKE_DATE(2026, 11, 1)) AS `_age`
          FROM `lead_activities` AS `t1`
          WHERE
            DATEDIFF(DAY, CAST(`t1`.`occurred_at` AS DATE), MAKE_DATE(2026, 11, 1)) >= 0
        ) AS `t2`
        GROUP BY
          1
      ) AS `t6`
        ON `t4`.`lead_id` = `t6`.`lead_id`
    ) AS `t7`
  ) AS `t8`
)
SELECT
  `t19`.`lead_id`,
  `t19`.`company`,
  `t19`.`email`,
  `t19`.`title`,
  `t19`.`persona`,
  `t19`.`fit_points`,
  `t19`.`behaviour_points`,
  `t19`.`negative_points`,
  `t19`.`days_since_activity`,
  `t19`.`decay_factor`,
  `t19`.`lead_score`,
  COALESCE(`t19`.`lead_score` >= `t19`.`mql_threshold`, FALSE) AS `is_mql`,
  `t19`.`mql_threshold`,
  CASE
    WHEN CASE
      WHEN COALESCE(`t19`.`_event_count__pricing_page_visit__14` >= 1, FALSE)
      THEN 0
      ELSE 1
    END = 0
    THEN 'demo_invite'
    WHEN CASE
      WHEN COALESCE(`t19`.`_event_count__pricing_page_visit__14` >= 1, FALSE)
      THEN 0
      ELSE 1
    END = 1
    THEN 'nurture'
    ELSE 'nurture'
  END AS `lead_segment`,
  '' AS `motion`,
  `t19`.`breakdown`,
  `t19`.`_email_ok` OR (
    `t19`.`email` IS NULL
  ) AS `email_valid`,
  CAST(ROUND(`t19`.`fit__title`, 2) AS DOUBLE) AS `fit__title`,
  CAST(ROUND(`t19`.`behaviour__intent`, 2) AS DOUBLE) AS `behaviour__intent`,
  CAST(ROUND(`t19`.`penalty__personal_email`, 2) AS DOUBLE) AS `penalty__personal_email`,
  '<spec-hash>' AS `spec_hash`,
  MAKE_DATE(2026, 11, 1) AS `as_of`
FROM (
  SELECT
    `t13`.`lead_id`,
    `t13`.`email`,
    `t13`.`company`,
    `t13`.`website`,
    `t13`.`title`,
    `t13`.`seniority`,
    `t13`.`persona`,
    `t13`.`country`,
    `t13`.`employees`,
    `t13`.`industry`,
    `t13`.`lead_source`,
    `t13`.`status`,
    `t13`.`created_at`,
    `t13`.`updated_at`,
    `t13`.`_email_ok`,
    `t13`.`_domain`,
    `t13`.`_last_age`,
    `t13`.`_n__demo_request`,
    `t13`.`_n__pricing_page_visit`,
    `t13`.`_event_count__pricing_page_visit__14`,
    `t13`.`fit__title`,
    `t13`.`behaviour__intent`,
    `t13`.`penalty__personal_email`,
    `t13`.`fit_points`,
    `t13`.`behaviour_points`,
    `t13`.`negative_points`,
    `t13`.`days_since_activity`,
    `t13`.`decay_factor`,
    `t13`.`lead_score`,
    `t13`.`breakdown`,
    `t18`.`mql_threshold`
  FROM (
    SELECT
      `t10`.`lead_id`,
      `t10`.`email`,
      `t10`.`company`,
      `t10`.`website`,
      `t10`.`title`,
      `t10`.`seniority`,
      `t10`.`persona`,
      `t10`.`country`,
      `t10`.`employees`,
      `t10`.`industry`,
      `t10`.`lead_source`,
      `t10`.`status`,
      `t10`.`created_at`,
      `t10`.`updated_at`,
      `t10`.`_email_ok`,
      `t10`.`_domain`,
      `t10`.`_last_age`,
      `t10`.`_n__demo_request`,
      `t10`.`_n__pricing_page_visit`,
      `t10`.`_event_count__pricing_page_visit__14`,
      `t10`.`fit__title`,
      `t10`.`behaviour__intent`,
      `t10`.`penalty__personal_email`,
      `t10`.`fit_points`,
      `t10`.`behaviour_points`,
      `t10`.`negative_points`,
      `t10`.`days_since_activity`,
      `t10`.`decay_factor`,
      `t10`.`lead_score`,
      NULLIF(
        CONCAT_WS(
          '; ',
          IF(
            `t10`.`fit__title` <> 0,
            CONCAT(
              CONCAT(CONCAT('title = ', `t10`.`title`), ' '),
              IF(
                `t10`.`fit__title` >= 0,
                CONCAT(
                  '+',
                  REGEXP_REPLACE(CAST(CAST(ROUND(`t10`.`fit__title`, 1) AS DOUBLE) AS STRING), '\\.0$', '')
                ),
                REGEXP_REPLACE(CAST(CAST(ROUND(`t10`.`fit__title`, 1) AS DOUBLE) AS STRING), '\\.0$', '')
              )
            ),
            CAST(NULL AS STRING)
          ),
          IF(
            `t10`.`behaviour__intent` <> 0,
            CONCAT(
              CONCAT(
                CONCAT(
                  CONCAT(
                    'intent: ',
                    CONCAT_WS(
                      ', ',
                      IF(
                        `t10`.`_n__demo_request` > 0,
                        CONCAT('demo_request x', CAST(`t10`.`_n__demo_request` AS STRING)),
                        CAST(NULL AS STRING)
                      ),
                      IF(
                        `t10`.`_n__pricing_page_visit` > 0,
                        CONCAT('pricing_page_visit x', CAST(`t10`.`_n__pricing_page_visit` AS STRING)),
                        CAST(NULL AS STRING)
                      )
                    )
                  ),
                  ' '
                ),
                IF(
                  `t10`.`behaviour__intent` >= 0,
                  CONCAT(
                    '+',
                    REGEXP_REPLACE(CAST(CAST(ROUND(`t10`.`behaviour__intent`, 1) AS DOUBLE) AS STRING), '\\.0$', '')
                  ),
                  REGEXP_REPLACE(CAST(CAST(ROUND(`t10`.`behaviour__intent`, 1) AS DOUBLE) AS STRING), '\\.0$', '')
                )
              ),
              IF(
                (
                  CAST('0.0' AS DOUBLE) + (
                    CAST(`t10`.`_n__demo_request` AS DOUBLE) * 30.0
                  ) + LEAST(CAST(`t10`.`_n__pricing_page_visit` AS DOUBLE) * 10.0, CAST('20.0' AS DOUBLE))
                ) > `t10`.`behaviour__intent`,
                ' (cap 40)',
                ''
              )
            ),
            CAST(NULL AS STRING)
          ),
          IF(
            `t10`.`penalty__personal_email` <> 0,
            CONCAT(
              CONCAT(CONCAT(CONCAT('personal email (', `t10`.`_domain`), ')'), ' '),
              IF(
                `t10`.`penalty__personal_email` >= 0,
                CONCAT(
                  '+',
                  REGEXP_REPLACE(
                    CAST(CAST(ROUND(`t10`.`penalty__personal_email`, 1) AS DOUBLE) AS STRING),
                    '\\.0$',
                    ''
                  )
                ),
                REGEXP_REPLACE(
                  CAST(CAST(ROUND(`t10`.`penalty__personal_email`, 1) AS DOUBLE) AS STRING),
                  '\\.0$',
                  ''
                )
              )
            ),
            CAST(NULL AS STRING)
          ),
          IF(
            COALESCE(CAST(FLOOR(CAST(`t10`.`days_since_activity` AS DOUBLE) / 30) AS BIGINT), 0.0) > 0,
            CONCAT(
              CONCAT(
                CONCAT(
                  'idle ',
                  CAST(CAST(COALESCE(CAST(FLOOR(CAST(`t10`.`days_since_activity` AS DOUBLE) / 30) AS BIGINT), 0.0) AS BIGINT) AS STRING)
                ),
                IF(
                  COALESCE(CAST(FLOOR(CAST(`t10`.`days_since_activity` AS DOUBLE) / 30) AS BIGINT), 0.0) = 1,
                  ' month x',
                  ' months x'
                )
              ),
              CAST(CAST(ROUND(`t10`.`decay_factor`, 2) AS DOUBLE) AS STRING)
            ),
            CAST(NULL AS STRING)
          ),
          IF(
            (
              `t10`.`email` IS NOT NULL
            ) AND NOT (
              `t10`.`_email_ok`
            ),
            'malformed email',
            CAST(NULL AS STRING)
          )
        ),
        ''
      ) AS `breakdown`
    FROM `t9` AS `t10`
  ) AS `t13`
  CROSS JOIN (
    SELECT
      MIN(`t16`.`lead_score`) AS `mql_threshold`
    FROM (
      SELECT
        *
      FROM (
        SELECT
          `t14`.`lead_score`,
          `t14`.`_k`,
          SUM(`t14`.`_k`) OVER (ORDER BY `t14`.`lead_score` DESC ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS `_n_ge`,
          SUM(`t14`.`_k`) OVER (ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS `_n`
        FROM (
          SELECT
            `t12`.`lead_score`,
            COUNT(*) AS `_k`
          FROM (
            SELECT
              `t10`.`lead_id`,
              `t10`.`email`,
              `t10`.`company`,
              `t10`.`website`,
              `t10`.`title`,
              `t10`.`seniority`,
              `t10`.`persona`,
              `t10`.`country`,
              `t10`.`employees`,
              `t10`.`industry`,
              `t10`.`lead_source`,
              `t10`.`status`,
              `t10`.`created_at`,
              `t10`.`updated_at`,
              `t10`.`_email_ok`,
              `t10`.`_domain`,
              `t10`.`_last_age`,
              `t10`.`_n__demo_request`,
              `t10`.`_n__pricing_page_visit`,
              `t10`.`_event_count__pricing_page_visit__14`,
              `t10`.`fit__title`,
              `t10`.`behaviour__intent`,
              `t10`.`penalty__personal_email`,
              `t10`.`fit_points`,
              `t10`.`behaviour_points`,
              `t10`.`negative_points`,
              `t10`.`days_since_activity`,
              `t10`.`decay_factor`,
              `t10`.`lead_score`,
              NULLIF(
                CONCAT_WS(
                  '; ',
                  IF(
                    `t10`.`fit__title` <> 0,
                    CONCAT(
                      CONCAT(CONCAT('title = ', `t10`.`title`), ' '),
                      IF(
                        `t10`.`fit__title` >= 0,
                        CONCAT(
                          '+',
                          REGEXP_REPLACE(CAST(CAST(ROUND(`t10`.`fit__title`, 1) AS DOUBLE) AS STRING), '\\.0$', '')
                        ),
                        REGEXP_REPLACE(CAST(CAST(ROUND(`t10`.`fit__title`, 1) AS DOUBLE) AS STRING), '\\.0$', '')
                      )
                    ),
                    CAST(NULL AS STRING)
                  ),
                  IF(
                    `t10`.`behaviour__intent` <> 0,
                    CONCAT(
                      CONCAT(
                        CONCAT(
                          CONCAT(
                            'intent: ',
                            CONCAT_WS(
                              ', ',
                              IF(
                                `t10`.`_n__demo_request` > 0,
                                CONCAT('demo_request x', CAST(`t10`.`_n__demo_request` AS STRING)),
                                CAST(NULL AS STRING)
                              ),
                              IF(
                                `t10`.`_n__pricing_page_visit` > 0,
                                CONCAT('pricing_page_visit x', CAST(`t10`.`_n__pricing_page_visit` AS STRING)),
                                CAST(NULL AS STRING)
                              )
                            )
                          ),
                          ' '
                        ),
                        IF(
                          `t10`.`behaviour__intent` >= 0,
                          CONCAT(
                            '+',
                            REGEXP_REPLACE(CAST(CAST(ROUND(`t10`.`behaviour__intent`, 1) AS DOUBLE) AS STRING), '\\.0$', '')
                          ),
                          REGEXP_REPLACE(CAST(CAST(ROUND(`t10`.`behaviour__intent`, 1) AS DOUBLE) AS STRING), '\\.0$', '')
                        )
                      ),
                      IF(
                        (
                          CAST('0.0' AS DOUBLE) + (
                            CAST(`t10`.`_n__demo_request` AS DOUBLE) * 30.0
                          ) + LEAST(CAST(`t10`.`_n__pricing_page_visit` AS DOUBLE) * 10.0, CAST('20.0' AS DOUBLE))
                        ) > `t10`.`behaviour__intent`,
                        ' (cap 40)',
                        ''
                      )
                    ),
                    CAST(NULL AS STRING)
                  ),
                  IF(
                    `t10`.`penalty__personal_email` <> 0,
                    CONCAT(
                      CONCAT(CONCAT(CONCAT('personal email (', `t10`.`_domain`), ')'), ' '),
                      IF(
                        `t10`.`penalty__personal_email` >= 0,
                        CONCAT(
                          '+',
                          REGEXP_REPLACE(
                            CAST(CAST(ROUND(`t10`.`penalty__personal_email`, 1) AS DOUBLE) AS STRING),
                            '\\.0$',
                            ''
                          )
                        ),
                        REGEXP_REPLACE(
                          CAST(CAST(ROUND(`t10`.`penalty__personal_email`, 1) AS DOUBLE) AS STRING),
                          '\\.0$',
                          ''
                        )
                      )
                    ),
                    CAST(NULL AS STRING)
                  ),
                  IF(
                    COALESCE(CAST(FLOOR(CAST(`t10`.`days_since_activity` AS DOUBLE) / 30) AS BIGINT), 0.0) > 0,
                    CONCAT(
                      CONCAT(
                        CONCAT(
                          'idle ',
                          CAST(CAST(COALESCE(CAST(FLOOR(CAST(`t10`.`days_since_activity` AS DOUBLE) / 30) AS BIGINT), 0.0) AS BIGINT) AS STRING)
                        ),
                        IF(
                          COALESCE(CAST(FLOOR(CAST(`t10`.`days_since_activity` AS DOUBLE) / 30) AS BIGINT), 0.0) = 1,
                          ' month x',
                          ' months x'
                        )
                      ),
                      CAST(CAST(ROUND(`t10`.`decay_factor`, 2) AS DOUBLE) AS STRING)
                    ),
                    CAST(NULL AS STRING)
                  ),
                  IF(
                    (
                      `t10`.`email` IS NOT NULL
                    ) AND NOT (
                      `t10`.`_email_ok`
                    ),
                    'malformed email',
                    CAST(NULL AS STRING)
                  )
                ),
                ''
              ) AS `breakdown`
            FROM `t9` AS `t10`
            WHERE
              `t10`.`lead_score` IS NOT NULL AND NOT ISNAN(`t10`.`lead_score`)
          ) AS `t12`
          GROUP BY
            1
        ) AS `t14`
      ) AS `t15`
      WHERE
        `t15`.`_n_ge` <= (
          `t15`.`_n` * 0.2
        ) AND `t15`.`lead_score` > 0
    ) AS `t16`
  ) AS `t18`
) AS `t19`;
