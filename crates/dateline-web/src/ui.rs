//! The words of the site's own interface, in each language it speaks.

use serde::Serialize;

/// Interface strings for one language.
#[derive(Debug, Serialize)]
pub struct Ui {
    pub skip: &'static str,
    pub sections: &'static str,
    pub editions: &'static str,
    pub top_stories: &'static str,
    pub latest: &'static str,
    pub more_from: &'static str,
    pub updated: &'static str,
    pub web_editor: &'static str,
    pub related: &'static str,
    pub also_in: &'static str,
    pub episode: &'static str,
    pub series: &'static str,
    pub in_partnership: &'static str,
    pub topic: &'static str,
    pub topics: &'static str,
    pub newer: &'static str,
    pub older: &'static str,
    pub page: &'static str,
    pub nothing_here: &'static str,
    pub not_found_title: &'static str,
    pub not_found_text: &'static str,
    pub error_title: &'static str,
    pub error_text: &'static str,
    pub home: &'static str,
    pub pagination: &'static str,
    pub breadcrumb: &'static str,
}

const EN: Ui = Ui {
    skip: "Skip to content",
    sections: "Sections",
    editions: "Editions",
    top_stories: "Top stories",
    latest: "Latest",
    more_from: "More from",
    updated: "Updated",
    web_editor: "Web editor",
    related: "Related Stories",
    also_in: "This story in other languages",
    episode: "Episode",
    series: "Series",
    in_partnership: "Co-produced with",
    topic: "Topic",
    topics: "Topics",
    newer: "Newer stories",
    older: "Older stories",
    page: "Page",
    nothing_here: "No stories yet.",
    not_found_title: "Page not found",
    not_found_text: "We could not find the page at this address. It may have been mistyped, or the story may have moved. These may help you on:",
    error_title: "Something went wrong",
    error_text: "We could not show this page just now. Please try again in a moment.",
    home: "Home",
    pagination: "Pages",
    breadcrumb: "Breadcrumb",
};

const ZH: Ui = Ui {
    skip: "跳到正文",
    sections: "栏目",
    editions: "语言版本",
    top_stories: "要闻",
    latest: "最新",
    more_from: "更多",
    updated: "更新",
    web_editor: "责编",
    related: "相关新闻",
    also_in: "本文其他语言版本",
    episode: "第",
    series: "系列",
    in_partnership: "联合出品",
    topic: "专题",
    topics: "专题",
    newer: "较新报道",
    older: "较早报道",
    page: "页",
    nothing_here: "暂无报道。",
    not_found_title: "页面未找到",
    not_found_text: "此地址没有页面，可能是地址有误，或报道已移动。以下链接或许有帮助：",
    error_title: "出错了",
    error_text: "暂时无法显示此页面，请稍后再试。",
    home: "首页",
    pagination: "分页",
    breadcrumb: "导航路径",
};

const RU: Ui = Ui {
    skip: "Перейти к тексту",
    sections: "Разделы",
    editions: "Версии",
    top_stories: "Главное",
    latest: "Последние новости",
    more_from: "Ещё в разделе",
    updated: "Обновлено",
    web_editor: "Веб-редактор",
    related: "По теме",
    also_in: "Этот материал на других языках",
    episode: "Выпуск",
    series: "Серия",
    in_partnership: "Совместно с",
    topic: "Тема",
    topics: "Темы",
    newer: "Более новые",
    older: "Более ранние",
    page: "Страница",
    nothing_here: "Материалов пока нет.",
    not_found_title: "Страница не найдена",
    not_found_text: "По этому адресу страницы нет. Возможно, в адресе ошибка или материал перенесён. Вот что может помочь:",
    error_title: "Что-то пошло не так",
    error_text: "Сейчас не удаётся показать страницу. Попробуйте чуть позже.",
    home: "Главная",
    pagination: "Страницы",
    breadcrumb: "Навигация",
};

/// The interface strings for a language, English where Dateline does not speak it yet.
pub fn ui(lang: &str) -> &'static Ui {
    match lang.split('-').next().unwrap_or(lang) {
        "zh" => &ZH,
        "ru" => &RU,
        _ => &EN,
    }
}

/// The name of a language in itself, for edition switchers.
pub fn language_name(lang: &str) -> &str {
    match lang.split('-').next().unwrap_or(lang) {
        "en" => "English",
        "zh" => "中文",
        "ru" => "Русский",
        "fr" => "Français",
        "es" => "Español",
        "ar" => "العربية",
        "de" => "Deutsch",
        "ja" => "日本語",
        "pt" => "Português",
        _ => lang,
    }
}
