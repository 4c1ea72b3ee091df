<?xml version="1.0" encoding="UTF-8"?>
<!--
  feed.xsl: renders the RSS 2.0 and Atom 1.0 feeds of feedsvc as a readable
  Vietnamese HTML page when a feed URL is opened in a browser.

  Plain XSLT 1.0: no extension functions, no external resources, no scripts.
  Its CSS is feed.css beside it (no inline style: the pages' Content-Security-Policy).
  It has to work in lxml (libxslt) and in the browsers' built-in XSLT.
  Text from the feed is always written with value-of (escaped as usual), never
  as markup.
-->
<xsl:stylesheet version="1.0"
    xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
    xmlns:atom="http://www.w3.org/2005/Atom"
    xmlns:dc="http://purl.org/dc/elements/1.1/"
    exclude-result-prefixes="atom dc">

  <xsl:output method="html" encoding="UTF-8" indent="yes"
      doctype-system="about:legacy-compat"/>

  <!-- Lower-case three-letter English month names, in order (RFC 822). -->
  <xsl:variable name="months" select="'janfebmaraprmayjunjulaugsepoctnovdec'"/>
  <xsl:variable name="upper" select="'ABCDEFGHIJKLMNOPQRSTUVWXYZ'"/>
  <xsl:variable name="lower" select="'abcdefghijklmnopqrstuvwxyz'"/>

  <!-- ===================================================== entry point -->

  <xsl:template match="/">
    <xsl:choose>
      <xsl:when test="rss/channel">
        <xsl:apply-templates select="rss/channel"/>
      </xsl:when>
      <xsl:when test="atom:feed">
        <xsl:apply-templates select="atom:feed"/>
      </xsl:when>
      <xsl:otherwise>
        <xsl:call-template name="page">
          <xsl:with-param name="title" select="'Nguồn tin'"/>
        </xsl:call-template>
      </xsl:otherwise>
    </xsl:choose>
  </xsl:template>

  <!-- ======================================================== RSS 2.0 -->

  <xsl:template match="channel">
    <xsl:call-template name="page">
      <xsl:with-param name="title" select="normalize-space(title)"/>
      <xsl:with-param name="subtitle" select="normalize-space(description)"/>
      <xsl:with-param name="home" select="normalize-space(link)"/>
      <xsl:with-param name="self" select="atom:link[@rel='self'][1]/@href"/>
      <xsl:with-param name="first" select="atom:link[@rel='first'][1]/@href"/>
      <xsl:with-param name="previous" select="atom:link[@rel='previous'][1]/@href"/>
      <xsl:with-param name="next" select="atom:link[@rel='next'][1]/@href"/>
      <xsl:with-param name="last" select="atom:link[@rel='last'][1]/@href"/>
      <xsl:with-param name="items" select="item"/>
    </xsl:call-template>
  </xsl:template>

  <xsl:template match="item">
    <xsl:variable name="href">
      <xsl:choose>
        <xsl:when test="normalize-space(link)">
          <xsl:value-of select="normalize-space(link)"/>
        </xsl:when>
        <xsl:when test="guid[not(@isPermaLink='false')]">
          <xsl:value-of select="normalize-space(guid)"/>
        </xsl:when>
      </xsl:choose>
    </xsl:variable>
    <xsl:call-template name="entry">
      <xsl:with-param name="title" select="normalize-space(title)"/>
      <xsl:with-param name="href" select="string($href)"/>
      <xsl:with-param name="date">
        <xsl:call-template name="rfc822">
          <xsl:with-param name="value" select="normalize-space(pubDate)"/>
        </xsl:call-template>
      </xsl:with-param>
      <xsl:with-param name="author" select="normalize-space(dc:creator[1])"/>
      <xsl:with-param name="summary" select="normalize-space(description)"/>
    </xsl:call-template>
  </xsl:template>

  <!-- ======================================================= Atom 1.0 -->

  <xsl:template match="atom:feed">
    <xsl:call-template name="page">
      <xsl:with-param name="title" select="normalize-space(atom:title)"/>
      <xsl:with-param name="subtitle" select="normalize-space(atom:subtitle)"/>
      <xsl:with-param name="home"
          select="(atom:link[@rel='alternate' or not(@rel)][not(@type) or @type='text/html'])[1]/@href"/>
      <xsl:with-param name="self" select="atom:link[@rel='self'][1]/@href"/>
      <xsl:with-param name="first" select="atom:link[@rel='first'][1]/@href"/>
      <xsl:with-param name="previous" select="atom:link[@rel='previous'][1]/@href"/>
      <xsl:with-param name="next" select="atom:link[@rel='next'][1]/@href"/>
      <xsl:with-param name="last" select="atom:link[@rel='last'][1]/@href"/>
      <xsl:with-param name="items" select="atom:entry"/>
    </xsl:call-template>
  </xsl:template>

  <xsl:template match="atom:entry">
    <xsl:variable name="stamp">
      <xsl:choose>
        <xsl:when test="normalize-space(atom:published)">
          <xsl:value-of select="normalize-space(atom:published)"/>
        </xsl:when>
        <xsl:otherwise>
          <xsl:value-of select="normalize-space(atom:updated)"/>
        </xsl:otherwise>
      </xsl:choose>
    </xsl:variable>
    <xsl:call-template name="entry">
      <xsl:with-param name="title" select="normalize-space(atom:title)"/>
      <xsl:with-param name="href"
          select="string((atom:link[@rel='alternate' or not(@rel)])[1]/@href)"/>
      <xsl:with-param name="date">
        <xsl:call-template name="rfc3339">
          <xsl:with-param name="value" select="string($stamp)"/>
        </xsl:call-template>
      </xsl:with-param>
      <xsl:with-param name="author" select="normalize-space(atom:author[1]/atom:name)"/>
      <xsl:with-param name="summary" select="normalize-space(atom:summary)"/>
    </xsl:call-template>
  </xsl:template>

  <!-- ================================================== shared layout -->

  <xsl:template name="page">
    <xsl:param name="title"/>
    <xsl:param name="subtitle"/>
    <xsl:param name="home"/>
    <xsl:param name="self"/>
    <xsl:param name="first"/>
    <xsl:param name="previous"/>
    <xsl:param name="next"/>
    <xsl:param name="last"/>
    <xsl:param name="items" select="/.."/>
    <html lang="vi">
      <head>
        <meta name="viewport" content="width=device-width, initial-scale=1"/>
        <meta name="robots" content="noindex"/>
        <title>
          <xsl:value-of select="$title"/>
          <xsl:text> – nguồn tin RSS/Atom</xsl:text>
        </title>
        <!-- Relative to the feed's URL (<base>/feeds/<name>), like that page is. -->
        <link rel="stylesheet" href="../static/fonts.css"/>
        <link rel="stylesheet" href="../static/feed.css"/>
      </head>
      <body>
        <main>
          <div class="notice" role="note">
            <p>
              <strong>Đây là nguồn tin RSS/Atom (web feed).</strong>
              <xsl:text> Hãy sao chép địa chỉ trang này vào ứng dụng đọc tin (Feedly, Inoreader, NetNewsWire, Thunderbird…) để nhận tin mới.</xsl:text>
            </p>
            <xsl:if test="normalize-space($self)">
              <p>
                <xsl:text>Địa chỉ nguồn tin:</xsl:text>
                <code class="feed-url"><xsl:value-of select="normalize-space($self)"/></code>
              </p>
            </xsl:if>
          </div>

          <header class="feed">
            <h1><xsl:value-of select="$title"/></h1>
            <xsl:if test="normalize-space($subtitle)">
              <p class="subtitle"><xsl:value-of select="$subtitle"/></p>
            </xsl:if>
            <xsl:if test="normalize-space($home)">
              <p class="home">
                <a href="{normalize-space($home)}">Xem trang web</a>
              </p>
            </xsl:if>
          </header>

          <xsl:choose>
            <xsl:when test="$items">
              <ol class="items">
                <xsl:apply-templates select="$items"/>
              </ol>
            </xsl:when>
            <xsl:otherwise>
              <p class="empty">Chưa có tin nào.</p>
            </xsl:otherwise>
          </xsl:choose>

          <xsl:if test="normalize-space($previous) or normalize-space($next) or normalize-space($first) or normalize-space($last)">
            <nav class="pager" aria-label="Phân trang">
              <xsl:if test="normalize-space($previous)">
                <a class="previous" rel="prev" href="{normalize-space($previous)}">← Trang mới hơn</a>
              </xsl:if>
              <xsl:if test="normalize-space($first)">
                <a class="first" href="{normalize-space($first)}">Trang đầu</a>
              </xsl:if>
              <xsl:if test="normalize-space($last)">
                <a class="last" href="{normalize-space($last)}">Trang cuối</a>
              </xsl:if>
              <xsl:if test="normalize-space($next)">
                <a class="next" rel="next" href="{normalize-space($next)}">Trang cũ hơn →</a>
              </xsl:if>
            </nav>
          </xsl:if>
        </main>
      </body>
    </html>
  </xsl:template>

  <xsl:template name="entry">
    <xsl:param name="title"/>
    <xsl:param name="href"/>
    <xsl:param name="date"/>
    <xsl:param name="author"/>
    <xsl:param name="summary"/>
    <li class="item">
      <h2>
        <xsl:variable name="label">
          <xsl:choose>
            <xsl:when test="normalize-space($title)"><xsl:value-of select="$title"/></xsl:when>
            <xsl:otherwise>(Không có tiêu đề)</xsl:otherwise>
          </xsl:choose>
        </xsl:variable>
        <xsl:choose>
          <xsl:when test="normalize-space($href)">
            <a href="{normalize-space($href)}"><xsl:value-of select="$label"/></a>
          </xsl:when>
          <xsl:otherwise><xsl:value-of select="$label"/></xsl:otherwise>
        </xsl:choose>
      </h2>
      <xsl:if test="normalize-space($date) or normalize-space($author)">
        <p class="meta">
          <xsl:if test="normalize-space($date)">
            <time class="date"><xsl:value-of select="$date"/></time>
          </xsl:if>
          <xsl:if test="normalize-space($date) and normalize-space($author)">
            <span class="sep" aria-hidden="true">·</span>
          </xsl:if>
          <xsl:if test="normalize-space($author)">
            <span class="author">
              <xsl:text>Tác giả: </xsl:text>
              <xsl:value-of select="$author"/>
            </span>
          </xsl:if>
        </p>
      </xsl:if>
      <xsl:if test="normalize-space($summary)">
        <!-- Shown as text on purpose: any markup in it stays visible as text. -->
        <p class="summary"><xsl:value-of select="$summary" disable-output-escaping="no"/></p>
      </xsl:if>
    </li>
  </xsl:template>

  <!-- ================================================ date formatting -->

  <!-- "Fri, 26 Mar 2021 10:00:00 +0700" (weekday and seconds optional)
       becomes "26/03/2021 10:00"; unparseable values are shown as-is. -->
  <xsl:template name="rfc822">
    <xsl:param name="value"/>
    <xsl:variable name="s">
      <xsl:choose>
        <xsl:when test="contains($value, ',')">
          <xsl:value-of select="normalize-space(substring-after($value, ','))"/>
        </xsl:when>
        <xsl:otherwise><xsl:value-of select="$value"/></xsl:otherwise>
      </xsl:choose>
    </xsl:variable>
    <xsl:variable name="day" select="substring-before($s, ' ')"/>
    <xsl:variable name="r1" select="substring-after($s, ' ')"/>
    <xsl:variable name="mon" select="translate(substring-before($r1, ' '), $upper, $lower)"/>
    <xsl:variable name="r2" select="substring-after($r1, ' ')"/>
    <xsl:variable name="year">
      <xsl:choose>
        <xsl:when test="contains($r2, ' ')"><xsl:value-of select="substring-before($r2, ' ')"/></xsl:when>
        <xsl:otherwise><xsl:value-of select="$r2"/></xsl:otherwise>
      </xsl:choose>
    </xsl:variable>
    <xsl:variable name="time" select="substring-before(concat(substring-after($r2, ' '), ' '), ' ')"/>
    <xsl:variable name="m" select="string-length(substring-before($months, $mon)) div 3 + 1"/>
    <xsl:choose>
      <xsl:when test="string-length($mon) = 3 and contains($months, $mon)
                      and (string-length(substring-before($months, $mon)) mod 3) = 0
                      and number($day) = number($day) and number($year) = number($year)">
        <xsl:value-of select="format-number(number($day), '00')"/>
        <xsl:text>/</xsl:text>
        <xsl:value-of select="format-number($m, '00')"/>
        <xsl:text>/</xsl:text>
        <xsl:choose>
          <xsl:when test="string-length($year) = 2">
            <xsl:value-of select="concat('20', $year)"/>
          </xsl:when>
          <xsl:otherwise><xsl:value-of select="$year"/></xsl:otherwise>
        </xsl:choose>
        <xsl:if test="string-length($time) &gt;= 5">
          <xsl:text> </xsl:text>
          <xsl:value-of select="substring($time, 1, 5)"/>
        </xsl:if>
      </xsl:when>
      <xsl:otherwise><xsl:value-of select="$value"/></xsl:otherwise>
    </xsl:choose>
  </xsl:template>

  <!-- "2021-03-26T10:00:00+07:00" becomes "26/03/2021 10:00" (local time
       as written in the feed); unparseable values are shown as-is. -->
  <xsl:template name="rfc3339">
    <xsl:param name="value"/>
    <xsl:choose>
      <xsl:when test="string-length($value) &gt;= 16
                      and substring($value, 5, 1) = '-' and substring($value, 8, 1) = '-'
                      and substring($value, 14, 1) = ':'">
        <xsl:value-of select="concat(substring($value, 9, 2), '/', substring($value, 6, 2), '/',
                                     substring($value, 1, 4), ' ', substring($value, 12, 5))"/>
      </xsl:when>
      <xsl:when test="string-length($value) = 10 and substring($value, 5, 1) = '-'">
        <xsl:value-of select="concat(substring($value, 9, 2), '/', substring($value, 6, 2), '/',
                                     substring($value, 1, 4))"/>
      </xsl:when>
      <xsl:otherwise><xsl:value-of select="$value"/></xsl:otherwise>
    </xsl:choose>
  </xsl:template>

</xsl:stylesheet>
